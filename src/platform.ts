/**
 * The runtime interface: the only things mprpc needs from Deno or Node. `platform.deno.ts`
 * implements it here; the npm build swaps in `platform.node.ts`. No other file knows which
 * runtime it runs on.
 *
 * @module
 */

/** A TCP connection as a pair of Web streams. */
export interface Socket {
  /** Bytes from the peer; ends (never errors) when either side closes the connection. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** `host:port` of the peer, for logs. */
  readonly remoteAddress: string;
  /** Closes the connection at once; safe to call more than once. */
  close(): void;
}

/** A listening TCP socket. */
export interface Listener extends AsyncIterable<Socket> {
  /** The bound address; `port` is the real port when 0 was asked for. */
  readonly addr: { hostname: string; port: number };
  /** Stops accepting; ends the iteration. */
  close(): void;
}

/** Where to listen or connect. */
export interface Address {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port; 0 when listening lets the OS choose. */
  port: number;
}

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

/** Everything a platform module provides; both implementations are checked against it. */
export interface Platform {
  /** Listens on `address`; resolves once bound. */
  listen(address: Address): Promise<Listener>;
  /** Opens a connection to `address`. */
  connect(address: Address): Promise<Socket>;
  /** Calls `handler` on SIGINT or SIGTERM; returns a function that stops listening for them. */
  onShutdownSignal(handler: () => void): () => void;
  /**
   * Starts a module worker running `url`, its heap limited to `memoryLimit` MB if given (a
   * platform that cannot limit a worker's heap throws).
   */
  spawnWorker(url: URL, events: WorkerEvents, memoryLimit?: number): WorkerHandle;
  /** The channel to the parent, from inside a worker. */
  parentPort(): ParentPort;
  /** The text of the module at `url`. */
  readText(url: URL): Promise<string>;
  /** How many threads can run at once. */
  hardwareConcurrency(): number;
}
