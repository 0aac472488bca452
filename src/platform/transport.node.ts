/**
 * Node's implementation of the transport seam in `transport.ts` (node:net). The npm build puts it
 * in place of `transport.deno.ts`.
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import type { Address, Listener, ListenOptions, Socket, Transport } from "./transport.ts";

function wrap(socket: net.Socket): Socket {
  socket.setNoDelay(true);
  // Ended by the peer, by an error, or by the reader cancelling (the pipeline failed on bad
  // input); after that, socket events must not touch the controller.
  let ended = false;
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      const end = () => {
        if (!ended) controller.close();
        ended = true;
      };
      socket.on("data", (chunk: Uint8Array) => {
        if (ended) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) socket.pause();
      });
      socket.on("end", end);
      socket.on("close", end);
      // A reset or a write to a closed peer: the connection is simply gone.
      socket.on("error", end);
    },
    pull() {
      socket.resume();
    },
    cancel() {
      ended = true;
    },
  }, { highWaterMark: 1 });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (socket.destroyed) throw new Error("the connection is closed");
      if (socket.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        const done = () => {
          socket.off("drain", done);
          socket.off("close", closed);
          resolve();
        };
        const closed = () => {
          socket.off("drain", done);
          reject(new Error("the connection closed"));
        };
        socket.once("drain", done);
        socket.once("close", closed);
      });
    },
  });
  return {
    readable,
    writable,
    remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`,
    close: () => void socket.destroy(),
  };
}

// node:net takes reusePort from 22.12 (and 23.1) on; older versions ignore it silently.
function checkReusePort(): void {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    throw new Error(`reusePort needs Node 22.12 or later; this is ${process.versions.node}`);
  }
}

/** Listens on `options`; resolves once bound. */
export function listen(options: ListenOptions): Promise<Listener> {
  const { hostname, port, reusePort } = options;
  if (reusePort) checkReusePort();
  const server = net.createServer({ noDelay: true });
  const waiting: Array<(socket: net.Socket | null) => void> = [];
  const accepted: net.Socket[] = [];
  let closed = false;
  server.on("connection", (socket) => {
    const taker = waiting.shift();
    if (taker) taker(socket);
    else accepted.push(socket);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host: hostname, ...reusePort && { reusePort } }, () => {
      server.off("error", reject);
      const bound = server.address() as net.AddressInfo;
      resolve({
        addr: { hostname: bound.address, port: bound.port },
        close() {
          closed = true;
          server.close();
          for (const taker of waiting.splice(0)) taker(null);
          for (const socket of accepted.splice(0)) socket.destroy();
        },
        async *[Symbol.asyncIterator]() {
          while (!closed) {
            const socket = accepted.shift() ??
              await new Promise<net.Socket | null>((take) => waiting.push(take));
            if (!socket) return;
            yield wrap(socket);
          }
        },
      });
    });
  });
}

/** Opens a connection to `address`. */
export function connect(address: Address): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: address.hostname, port: address.port });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(wrap(socket));
    });
  });
}

const _implements: Transport = { listen, connect };
