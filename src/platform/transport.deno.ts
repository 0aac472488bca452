/**
 * Deno's implementation of the transport seam in `transport.ts` (`Deno.listen`, `Deno.connect`).
 *
 * @module
 */
import { connectTls, listenTls } from "./tls.ts";
import type { ConnectOptions, Listener, ListenOptions, Socket, Transport } from "./transport.ts";

// A connection's read buffer is held by the read waiting on it, and resident: an idle connection
// keeps a small one. It doubles after a read that fills it, and halves after one that uses less
// than a quarter of it, between these sizes.
const MIN_READ = 2 * 1024;
const MAX_READ = 64 * 1024;
const ACCEPT_RETRY_MS = 100;
// Reads smaller than this are copied out so the read buffer can be reused; bigger ones are
// handed over as they are.
const COPY_BELOW = 8 * 1024;

// The read buffer size after a read of `n` bytes into one of `size`.
function nextReadSize(n: number, size: number): number {
  if (n === size) return Math.min(2 * size, MAX_READ);
  return n < size / 4 ? Math.max(size / 2, MIN_READ) : size;
}

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
  let buffer = new Uint8Array(MIN_READ);
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
      const size = nextReadSize(n, buffer.length);
      if (n < COPY_BELOW) {
        controller.enqueue(buffer.slice(0, n));
        if (size !== buffer.length) buffer = new Uint8Array(size);
        return;
      }
      controller.enqueue(buffer.subarray(0, n));
      buffer = new Uint8Array(size);
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

// Deno.listen's reusePort is unstable: without --unstable-net, Deno ends the whole process. That
// flag is what makes Deno.listenDatagram exist, so its absence says the flag is missing.
function listenTcp({ hostname, port, reusePort }: ListenOptions): Deno.TcpListener {
  if (reusePort && !("listenDatagram" in Deno)) {
    throw new Error("reusePort needs Deno's --unstable-net flag");
  }
  return Deno.listen({ hostname, port, transport: "tcp", ...reusePort && { reusePort } });
}

/** Listens on `options`; resolves once bound. */
export function listen(options: ListenOptions): Promise<Listener> {
  const { hostname, port, reusePort, tls } = options;
  // node:net, under Deno, takes reusePort without --unstable-net.
  if (tls) return listenTls(tls, { host: hostname, port, ...reusePort && { reusePort } });
  const listener = listenTcp(options);
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
          // Out of file descriptors, or a connection reset before it was accepted: the listener
          // itself is fine, so accepting goes on, after a pause that lets descriptors free up.
          await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
          continue;
        }
        yield wrap(conn);
      }
    },
  });
}

/** Opens a connection to `options`. */
export async function connect(options: ConnectOptions): Promise<Socket> {
  if (options.tls) return await connectTls(options);
  const { hostname, port } = options;
  return wrap(await Deno.connect({ hostname, port, transport: "tcp" }));
}

const _implements: Transport = { listen, connect };
