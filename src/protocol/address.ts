/**
 * MPRPC addresses: `tcp://USER:PASS@HOST:PORT` names a server (`tls://` one that speaks TLS);
 * `broker://USER:PASS@HOST:PORT` names a broker that hands out servers (`broker+tls://` brokers
 * that speak TLS), and may list several brokers to try in turn (`broker://USER:PASS@B1:7000,B2:7000`).
 *
 * @module
 */

/** Where a socket goes: a host and a port. */
export interface HostPort {
  /** Host name or IP address (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
}

/** A parsed `tcp://` or `tls://` address: one server and the credentials to present to it. */
export interface ServerAddress extends HostPort {
  /** Whether the server speaks TLS (`tls://`). */
  tls?: boolean;
  /** The user name, or `null` when the address has none. */
  username: string | null;
  /** The password, or `null` when the address has none. */
  password: string | null;
}

/** A parsed `broker://` address: the brokers to ask in turn, and the credentials to present. */
export interface BrokerAddress {
  /** Whether the brokers speak TLS (`broker+tls://`). */
  tls?: boolean;
  /** The brokers, in the order to try them. */
  brokers: HostPort[];
  /** The user name, or `null` when the address has none. */
  username: string | null;
  /** The password, or `null` when the address has none. */
  password: string | null;
}

/** What a client may be given: a server, or brokers that name one. */
export type Target =
  | { kind: "server"; address: ServerAddress }
  | { kind: "broker"; address: BrokerAddress };

const SHAPE =
  "an address like tcp://user:pass@host:port or broker://user:pass@host:port[,host:port]";

function invalid(url: string): TypeError {
  return new TypeError(`'${url}' is not ${SHAPE}`);
}

// One `host:port` (`[v6]:port` for IPv6), checked by the URL parser.
function hostPort(text: string, url: string): HostPort {
  let parsed: URL;
  try {
    parsed = new URL(`tcp://${text}`);
  } catch {
    throw invalid(url);
  }
  if (!parsed.hostname || !parsed.port || parsed.username || parsed.pathname) throw invalid(url);
  return { hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(parsed.port) };
}

function decoded(part: string | undefined, url: string): string | null {
  if (!part) return null;
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(url);
  }
}

/**
 * Parses a `tcp://` or `broker://` address; throws a `TypeError` for anything else. The scheme is
 * case-insensitive; the credentials end at the last `@` (so a password may hold an unescaped `@`)
 * and the user name at the first `:`; a query or fragment is refused, not ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTarget } from "./address.ts";
 * assert.deepEqual(parseTarget("TCP://admin:p@ss@[::1]:5000"), {
 *   kind: "server",
 *   address: { hostname: "::1", port: 5000, username: "admin", password: "p@ss" },
 * });
 * assert.deepEqual(parseTarget("broker://a:b@b1:7000,b2:7001").address, {
 *   brokers: [{ hostname: "b1", port: 7000 }, { hostname: "b2", port: 7001 }],
 *   username: "a",
 *   password: "b",
 * });
 * assert.throws(() => parseTarget("tcp://a:b@h:1?x=1"), TypeError);
 * ```
 */
export function parseTarget(url: string): Target {
  const match = /^(tcp|tls|broker|broker\+tls):\/\/(?:([^/?#]*)@)?([^@/?#]+)\/?$/i.exec(
    String(url),
  );
  if (!match) throw invalid(url);
  const [, scheme, userinfo, hosts] = match;
  const colon = userinfo?.indexOf(":") ?? -1;
  const username = decoded(colon === -1 ? userinfo : userinfo!.slice(0, colon), url);
  const password = decoded(colon === -1 ? undefined : userinfo!.slice(colon + 1), url);
  const list = hosts.split(",").map((text) => hostPort(text, url));
  const kind = scheme.toLowerCase();
  const tls = kind.endsWith("tls") ? { tls: true } : {};
  if (!kind.startsWith("broker")) {
    if (list.length !== 1) throw new TypeError(`'${url}': a ${kind}:// address names one server`);
    return { kind: "server", address: { ...list[0], username, password, ...tls } };
  }
  return { kind: "broker", address: { brokers: list, username, password, ...tls } };
}

/** Parses `tcp://USER:PASS@HOST:PORT`; throws a `TypeError` for anything else. */
export function parseAddress(url: string): ServerAddress {
  const target = parseTarget(url);
  if (target.kind !== "server") throw invalid(url);
  return target.address;
}

/**
 * Formats `tcp://USER:PASS@HOST:PORT` (`tls://` for TLS), the credentials escaped (left out when
 * both are empty).
 */
export function formatAddress(address: ServerAddress): string {
  const { hostname, port, username, password, tls } = address;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const user = username || password
    ? `${encodeURIComponent(username ?? "")}:${encodeURIComponent(password ?? "")}@`
    : "";
  return `${tls ? "tls" : "tcp"}://${user}${host}:${port}`;
}
