/**
 * Deno's implementation of the runtime seam in `runtime.ts`.
 *
 * @module
 */
import type { ParentPort, Runtime, WorkerEvents, WorkerHandle } from "./runtime.ts";

/** Calls `handler` on SIGINT or SIGTERM; returns a function that stops listening for them. */
export function onShutdownSignal(handler: () => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, handler);
  return () => {
    for (const signal of signals) Deno.removeSignalListener(signal, handler);
  };
}

/**
 * Throws `Deno.errors.NotCapable` unless the process may read the worker module at `url`.
 * Without it the worker never loads, and Deno reports that only as an event on this thread: one
 * a caller blocked in `Atomics.wait` (the synchronous client) would see only after its timeout.
 */
function assertReadable(url: URL): void {
  if (url.protocol !== "file:") return;
  const descriptor = { name: "read", path: url } as const;
  let { state } = Deno.permissions.querySync(descriptor);
  // Asks at a terminal, as loading the module would; denied at once without one (or --no-prompt).
  if (state === "prompt") state = Deno.permissions.requestSync(descriptor).state;
  if (state !== "granted") {
    throw new Deno.errors.NotCapable(
      `cannot start a worker: reading ${decodeURIComponent(url.pathname)} needs --allow-read`,
    );
  }
}

/**
 * Starts a module worker running `url`. Deno cannot limit a worker's heap (and a worker that runs
 * out of memory ends the whole process), so `memoryLimit` is refused. Throws
 * `Deno.errors.NotCapable` at once if the process may not read the module.
 */
export function spawnWorker(url: URL, events: WorkerEvents, memoryLimit?: number): WorkerHandle {
  if (memoryLimit !== undefined) {
    throw new TypeError(
      "workerMemoryLimit is not supported on Deno: its workers share the process heap limit",
    );
  }
  assertReadable(url);
  const worker = new Worker(url, { type: "module" });
  worker.onmessage = (event) => events.onMessage(event.data);
  worker.onerror = (event) => {
    // Handled here: unhandled, a worker's error would be re-thrown on the main thread.
    event.preventDefault();
    events.onError(event.message);
  };
  worker.onmessageerror = () =>
    events.onError("a message from the worker could not be deserialized");
  return {
    post: (message, transfer = []) => worker.postMessage(message, transfer),
    terminate: () => worker.terminate(),
  };
}

/**
 * The channel to the parent, from inside a worker. A worker that closes itself
 * (`self.close()`) first says so, since the parent gets no event for it.
 */
export function parentPort(): ParentPort {
  const scope = globalThis as unknown as {
    postMessage(message: unknown, transfer: Transferable[]): void;
    close(): void;
    onmessage: ((event: MessageEvent) => void) | null;
  };
  const close = scope.close.bind(scope);
  scope.close = () => {
    scope.postMessage({ type: "closing" }, []);
    close();
  };
  return {
    post: (message, transfer = []) => scope.postMessage(message, transfer),
    onMessage: (handler) => scope.onmessage = (event) => handler(event.data),
  };
}

/** The text of the module at `url` (file: or http(s):). */
export async function readText(url: URL): Promise<string> {
  if (url.protocol === "file:") return await Deno.readTextFile(url);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not read ${url}: ${response.status}`);
  return await response.text();
}

/** How many threads can run at once: the default size of the worker pool. */
export function hardwareConcurrency(): number {
  return navigator.hardwareConcurrency || 1;
}

const _implements: Runtime = {
  onShutdownSignal,
  spawnWorker,
  parentPort,
  readText,
  hardwareConcurrency,
};
