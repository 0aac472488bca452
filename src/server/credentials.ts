/**
 * Credential checking for the handshake, in constant time.
 *
 * @module
 */

/** A `[username, password]` pair the server accepts. */
export type Credential = readonly [username: string, password: string];

const encoder = new TextEncoder();

// Compares in time that depends only on the lengths, never on where the bytes differ.
function equal(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Whether `username`/`password` pass: they match one of `accepted`, or `accepted` is empty and
 * both are empty. Every pair is compared, so the time does not tell which one matched.
 */
export function checkCredentials(
  accepted: readonly Credential[],
  username: string | null,
  password: string | null,
): boolean {
  if (accepted.length === 0) return !username && !password;
  let ok = false;
  for (const [user, pass] of accepted) {
    const match = equal(user, username ?? "") && username !== null;
    ok = (equal(pass, password ?? "") && password !== null && match) || ok;
  }
  return ok;
}

// Whether `hostname` names a loopback interface: `localhost`, 127.0.0.0/8, `::1`, or 127.0.0.0/8
// mapped into IPv6. The URL parser normalizes the spellings (`127.1`, `[0:0:0:0:0:0:0:1]`).
function isLoopback(hostname: string): boolean {
  let host: string;
  try {
    const bare = hostname.replace(/^\[(.*)\]$/, "$1");
    host = new URL(`http://${bare.includes(":") ? `[${bare}]` : bare}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "[::1]" ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(host);
}

/**
 * Throws a `TypeError` if a server or broker (`kind` names its options) would listen on
 * `hostname`, reachable from other machines, with the default `admin`/`admin` (`auth` not given):
 * anyone who can reach the port could log in. An explicit `auth`, even `[["admin", "admin"]]`,
 * is the caller's choice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refuseDefaultCredentials } from "./credentials.ts";
 * refuseDefaultCredentials("ServerOptions", "127.0.0.1", undefined); // loopback: fine
 * refuseDefaultCredentials("ServerOptions", "0.0.0.0", [["app", "s3cret"]]); // own credentials
 * assert.throws(() => refuseDefaultCredentials("ServerOptions", "0.0.0.0", undefined), TypeError);
 * ```
 */
export function refuseDefaultCredentials(
  kind: string,
  hostname: string,
  auth: readonly Credential[] | undefined,
): void {
  if (auth !== undefined || isLoopback(hostname)) return;
  throw new TypeError(
    `${kind}: refusing to listen on ${hostname} with the default credentials admin/admin, which ` +
      `anyone who can reach it could use: pass your own, auth: [["user", "password"]], or listen ` +
      `on a loopback address, hostname: "127.0.0.1"`,
  );
}
