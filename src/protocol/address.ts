/**
 * MPRPC addresses: `tcp://USER:PASS@HOST:PORT`.
 *
 * @module
 */

/** A parsed MPRPC address. */
export interface ServerAddress {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** The user name, or `null` when the address has none. */
  username: string | null;
  /** The password, or `null` when the address has none. */
  password: string | null;
}

/** Parses `tcp://USER:PASS@HOST:PORT`; throws a `TypeError` for anything else. */
export function parseAddress(url: string): ServerAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`'${url}' is not an address like tcp://user:pass@host:port`);
  }
  if (parsed.protocol !== "tcp:" || !parsed.hostname || !parsed.port) {
    throw new TypeError(`'${url}' is not an address like tcp://user:pass@host:port`);
  }
  return {
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(parsed.port),
    username: parsed.username ? decodeURIComponent(parsed.username) : null,
    password: parsed.password ? decodeURIComponent(parsed.password) : null,
  };
}
