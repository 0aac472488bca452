/**
 * The runtime seam: worker threads, process signals and files. `runtime.deno.ts` implements it
 * here; the npm build swaps in `runtime.node.ts`. No other file knows which runtime it runs on.
 *
 * @module
 */

/** A worker thread, seen from the thread that started it. */
export interface WorkerHandle {
  /** Sends `message`, moving the `transfer` buffers instead of copying them. */
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  /** Stops the worker at once. */
  terminate(): void;
}

/** What the worker reports to the thread that started it. */
export interface WorkerEvents {
  /** A message from the worker. */
  onMessage(data: unknown): void;
  /** The worker failed: an uncaught error or rejection, or a module that did not load. */
  onError(message: string): void;
}

/** The channel to the parent thread, seen from inside a worker. */
export interface ParentPort {
  /** Sends `message`, moving the `transfer` buffers instead of copying them. */
  post(message: unknown, transfer?: ArrayBuffer[]): void;
  /** Calls `handler` with each message from the parent. */
  onMessage(handler: (data: unknown) => void): void;
}

/** Everything a runtime module provides; both implementations are checked against it. */
export interface Runtime {
  /** Calls `handler` on SIGINT or SIGTERM; returns a function that stops listening for them. */
  onShutdownSignal(handler: () => void): () => void;
  /**
   * Starts a module worker running `url`, its heap limited to `memoryLimit` MB if given (a
   * platform that cannot limit a worker's heap throws). A platform with permissions throws at
   * once, naming the missing one, if the process may not load the module.
   */
  spawnWorker(url: URL, events: WorkerEvents, memoryLimit?: number): WorkerHandle;
  /** The channel to the parent, from inside a worker. */
  parentPort(): ParentPort;
  /** The text of the module at `url`. */
  readText(url: URL): Promise<string>;
  /** How many threads can run at once. */
  hardwareConcurrency(): number;
}
