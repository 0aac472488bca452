/**
 * Node's implementation of the transport seam in `transport.ts` (node:net). The npm build puts it
 * in place of `transport.deno.ts`.
 *
 * @module
 */
import net from "node:net";
import process from "node:process";
import { listenNode, wrapNodeSocket } from "./node_socket.ts";
import { connectTls, listenTls } from "./tls.ts";
import type { ConnectOptions, Listener, ListenOptions, Socket, Transport } from "./transport.ts";

// node:net takes reusePort from 22.12 (and 23.1) on; older versions ignore it silently.
function checkReusePort(): void {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12)) {
    throw new Error(`reusePort needs Node 22.12 or later; this is ${process.versions.node}`);
  }
}

/** Listens on `options`; resolves once bound. */
export function listen(options: ListenOptions): Promise<Listener> {
  const { hostname, port, reusePort, tls } = options;
  if (reusePort) checkReusePort();
  const bind = { port, host: hostname, ...reusePort && { reusePort } };
  if (tls) return listenTls(tls, bind);
  const server = net.createServer({ noDelay: true });
  return listenNode(server, "connection", bind, (socket: net.Socket) => wrapNodeSocket(socket));
}

/** Opens a connection to `options`. */
export function connect(options: ConnectOptions): Promise<Socket> {
  if (options.tls) return connectTls(options);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: options.hostname, port: options.port });
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(wrapNodeSocket(socket));
    });
  });
}

const _implements: Transport = { listen, connect };
