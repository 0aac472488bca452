/**
 * TLS for both runtimes, through node:tls (Deno implements it, with client certificates, which
 * Deno's own `listenTls` cannot ask for). The transports call it when an address asks for TLS.
 *
 * @module
 */
import tls from "node:tls";
import type net from "node:net";
import { listenNode, wrapNodeSocket } from "./node_socket.ts";
import type {
  ConnectOptions,
  Listener,
  PeerCertificate,
  Socket,
  TlsServerOptions,
} from "./transport.ts";

// The certificate a client presented, as the call context shows it.
function peerCertificate(socket: tls.TLSSocket): PeerCertificate | undefined {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const subject = Object.fromEntries(
    Object.entries(cert.subject ?? {}).map(([k, v]) => [k, String(v)]),
  );
  return { subject, fingerprint256: cert.fingerprint256 };
}

/**
 * Listens with TLS on `bind`. With `options.ca`, a client must present a certificate signed by it
 * (mutual TLS). A client that fails the handshake (plaintext, untrusted) is dropped quietly: it
 * never reaches the server, and costs it nothing more.
 */
export function listenTls(options: TlsServerOptions, bind: net.ListenOptions): Promise<Listener> {
  const { cert, key, ca } = options;
  const server = tls.createServer({
    cert,
    key,
    ...ca !== undefined && { ca, requestCert: true, rejectUnauthorized: true },
  });
  server.on("tlsClientError", (_err, socket) => socket.destroy());
  return listenNode(server, "secureConnection", bind, (socket: tls.TLSSocket) => {
    socket.setNoDelay(true);
    return wrapNodeSocket(socket, ca === undefined ? undefined : peerCertificate(socket));
  });
}

const IP = /^(\d{1,3}(\.\d{1,3}){3}|.*:.*)$/;

/**
 * Connects with TLS, checking the server's certificate against `tls.ca` (else the system's roots)
 * and its name against `hostname`; rejects with the handshake's error (its `code` says why).
 */
export function connectTls(options: ConnectOptions): Promise<Socket> {
  const { hostname, port, tls: { ca, cert, key } = {} } = options;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: hostname,
      port,
      ca,
      cert,
      key,
      // SNI takes names only; an IP address is still checked against the certificate.
      ...!IP.test(hostname) && { servername: hostname },
    });
    socket.once("error", reject);
    socket.once("secureConnect", () => {
      socket.off("error", reject);
      resolve(wrapNodeSocket(socket));
    });
  });
}
