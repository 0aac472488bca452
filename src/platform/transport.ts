/**
 * The transport seam: listening and connecting, as Web streams. `transport.deno.ts` implements it
 * here; the npm build swaps in `transport.node.ts`. TLS will plug in here too.
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

/** Where to listen, and how. */
export interface ListenOptions extends Address {
  /** Share the port with other processes (`SO_REUSEPORT`). */
  reusePort?: boolean;
}

/** Everything a transport module provides; both implementations are checked against it. */
export interface Transport {
  /** Listens on `address`; resolves once bound. */
  listen(options: ListenOptions): Promise<Listener>;
  /** Opens a connection to `address`. */
  connect(address: Address): Promise<Socket>;
}
