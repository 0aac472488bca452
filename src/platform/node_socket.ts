/**
 * node:net sockets and servers as the transport seam's Web streams. Node's transport uses them for
 * TCP, and both runtimes for TLS (`tls.ts`: node:tls, which Deno implements too, is the one TLS
 * API with client certificates on both).
 *
 * @module
 */
import type net from "node:net";
import type { Listener, PeerCertificate, Socket } from "./transport.ts";

/**
 * `socket` as the transport seam's {@linkcode Socket}; `peerCertificate` is the client's verified
 * certificate on a TLS server that asked for one.
 */
export function wrapNodeSocket(socket: net.Socket, peerCertificate?: PeerCertificate): Socket {
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
  // A write is in flight until the socket has handed its bytes to the kernel (its callback,
  // which Node also calls once the socket is destroyed): meanwhile the FrameJoiner coalesces
  // what is pushed, as Deno's `await conn.write` lets it. Settling as soon as socket.write()
  // returned true (always, below 16 KiB buffered) made nearly every answer its own write.
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (socket.destroyed) throw new Error("the connection is closed");
      return new Promise<void>((resolve, reject) => {
        socket.write(chunk, (err) => err ? reject(err) : resolve());
      });
    },
  });
  return {
    readable,
    writable,
    remoteAddress: `${socket.remoteAddress}:${socket.remotePort}`,
    peerCertificate,
    close: () => void socket.destroy(),
  };
}

/**
 * Accepts the connections of `server` (not yet listening) as a {@linkcode Listener}, once it is
 * bound to `options`: `event` is the server's event for an accepted connection, and `wrap` turns
 * one into a Socket.
 */
export function listenNode<S extends net.Socket>(
  server: net.Server,
  event: string,
  options: net.ListenOptions,
  wrap: (socket: S) => Socket,
): Promise<Listener> {
  const waiting: Array<(socket: S | null) => void> = [];
  const accepted: S[] = [];
  let closed = false;
  server.on(event, (socket: S) => {
    const taker = waiting.shift();
    if (taker) taker(socket);
    else accepted.push(socket);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options, () => {
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
              await new Promise<S | null>((take) => waiting.push(take));
            if (!socket) return;
            yield wrap(socket);
          }
        },
      });
    });
  });
}
