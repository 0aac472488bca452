/**
 * The transport seam: listening and connecting, as Web streams. `transport.deno.ts` implements it
 * here; the npm build swaps in `transport.node.ts`. Both hand TLS to `tls.ts`.
 *
 * @module
 */

/** A TCP connection as a pair of Web streams. */
export interface Socket {
  /** Bytes from the peer; ends (never errors) when either side closes the connection. */
  readonly readable: ReadableStream<Uint8Array>;
  /**
   * Bytes to the peer. A chunk is the socket's only until its write resolves: the writer may
   * then reuse its buffer (never after a write that rejected: the socket may still hold it).
   */
  readonly writable: WritableStream<Uint8Array>;
  /** `host:port` of the peer, for logs. */
  readonly remoteAddress: string;
  /** The certificate the peer presented, on a TLS server that asks clients for one. */
  readonly peerCertificate?: PeerCertificate;
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

/** A client's certificate, as a TLS server verified it. */
export interface PeerCertificate {
  /** The subject's fields, e.g. `{ CN: "alice", O: "example" }`. */
  readonly subject: Readonly<Record<string, string>>;
  /** The SHA-256 fingerprint, `AB:CD:…`. */
  readonly fingerprint256: string;
}

/** A TLS server's certificate and key (PEM text), and the CA that client certificates need. */
export interface TlsServerOptions {
  /** The server's certificate chain, PEM. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
  /** If set, clients must present a certificate signed by this CA (PEM): mutual TLS. */
  ca?: string;
}

/** What a TLS client trusts and presents (PEM text). */
export interface TlsClientOptions {
  /** The CA that signed the server's certificate; default: the system's roots. */
  ca?: string;
  /** The client's certificate, for servers that ask for one. */
  cert?: string;
  /** The client certificate's private key. */
  key?: string;
}

/** Where to listen, and how. */
export interface ListenOptions extends Address {
  /** Share the port with other processes (`SO_REUSEPORT`). */
  reusePort?: boolean;
  /** Listen with TLS only. */
  tls?: TlsServerOptions;
}

/** Where to connect, and how. */
export interface ConnectOptions extends Address {
  /** Connect with TLS. */
  tls?: TlsClientOptions;
}

/** Everything a transport module provides; both implementations are checked against it. */
export interface Transport {
  /** Listens on `address`; resolves once bound. */
  listen(options: ListenOptions): Promise<Listener>;
  /** Opens a connection to `options`. */
  connect(options: ConnectOptions): Promise<Socket>;
}
