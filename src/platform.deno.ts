/**
 * Deno's implementation of the runtime interface in `platform.ts`.
 *
 * @module
 */
import type {
  Address,
  Listener,
  ParentPort,
  Platform,
  Socket,
  WorkerEvents,
  WorkerHandle,
} from "./platform.ts";

const READ_SIZE = 64 * 1024;
// Reads smaller than this are copied out so the read buffer can be reused; bigger ones are
// handed over as they are.
const COPY_BELOW = 8 * 1024;

// Errors that only mean "the connection is gone", whichever side closed it.
function isClosedError(err: unknown): boolean {
  return err instanceof Deno.errors.BadResource || err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.Interrupted ||
    err instanceof Deno.errors.NotConnected || err instanceof Deno.errors.ConnectionAborted;
}

function wrap(conn: Deno.TcpConn): Socket {
  conn.setNoDelay(true);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch (err) {
      if (!isClosedError(err)) throw err;
    }
  };
  let buffer = new Uint8Array(READ_SIZE);
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (err) {
        if (!closed && !isClosedError(err)) throw err;
        n = null;
      }
      if (n === null) {
        close();
        return controller.close();
      }
      if (n < COPY_BELOW) return controller.enqueue(buffer.slice(0, n));
      controller.enqueue(buffer.subarray(0, n));
      buffer = new Uint8Array(READ_SIZE);
    },
  }, { highWaterMark: 0 });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      for (let at = 0; at < chunk.length;) at += await conn.write(chunk.subarray(at));
    },
  });
  const { hostname, port } = conn.remoteAddr;
  return { readable, writable, remoteAddress: `${hostname}:${port}`, close };
}

/** Listens on `address`; resolves once bound. */
export function listen(address: Address): Promise<Listener> {
  const listener = Deno.listen({ ...address, transport: "tcp" });
  return Promise.resolve({
    addr: { hostname: listener.addr.hostname, port: listener.addr.port },
    close: () => listener.close(),
    async *[Symbol.asyncIterator]() {
      while (true) {
        let conn: Deno.TcpConn;
        try {
          conn = await listener.accept();
        } catch (err) {
          if (isClosedError(err)) return;
          throw err;
        }
        yield wrap(conn);
      }
    },
  });
}

/** Opens a connection to `address`. */
export async function connect(address: Address): Promise<Socket> {
  return wrap(await Deno.connect({ ...address, transport: "tcp" }));
}

/** Calls `handler` on SIGINT or SIGTERM; returns a function that stops listening for them. */
export function onShutdownSignal(handler: () => void): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, handler);
  return () => {
    for (const signal of signals) Deno.removeSignalListener(signal, handler);
  };
}

/**
 * Starts a module worker running `url`. Deno cannot limit a worker's heap (and a worker that runs
 * out of memory ends the whole process), so `memoryLimit` is refused.
 */
export function spawnWorker(url: URL, events: WorkerEvents, memoryLimit?: number): WorkerHandle {
  if (memoryLimit !== undefined) {
    throw new TypeError(
      "workerMemoryLimit is not supported on Deno: its workers share the process heap limit",
    );
  }
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

const _implements: Platform = {
  listen,
  connect,
  onShutdownSignal,
  spawnWorker,
  parentPort,
  readText,
  hardwareConcurrency,
};
