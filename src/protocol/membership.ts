/**
 * What a server and a broker say to each other (docs/extensions.md, "Broker"): a server joins as
 * the user {@linkcode MEMBER_USER} with the broker's secret as password, over an ordinary
 * session, and calls the broker's `broker.join` and `broker.report` methods.
 *
 * @module
 */

/** The user name a server authenticates as to join a broker; its password is the secret. */
export const MEMBER_USER = "mprpc.member";

/** The broker's methods a member calls. */
export const JOIN = "broker.join";
/** See {@linkcode JOIN}. */
export const REPORT = "broker.report";

/** A member's load, as it reports it: what ranks it against other members. */
export interface MemberLoad {
  /** Open client connections. */
  connections: number;
  /** Calls started and not yet finished. */
  calls: number;
  /** Calls waiting for a worker of the pool. */
  queued: number;
}

/** The first item of the `broker.join` stream. */
export interface Joined {
  /** The membership's ID, which the member's reports carry. */
  id: string;
  /** Seconds between reports; a member silent for three of them is dropped. */
  interval: number;
}

const LOAD_FIELDS = ["connections", "calls", "queued"] as const;

/** `value` as a {@linkcode MemberLoad}, or `undefined` if it is not one. */
export function readLoad(value: unknown): MemberLoad | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const load = value as Record<string, unknown>;
  const valid = LOAD_FIELDS.every((field) =>
    Number.isSafeInteger(load[field]) && (load[field] as number) >= 0
  );
  return valid
    ? { connections: load.connections, calls: load.calls, queued: load.queued } as MemberLoad
    : undefined;
}

const encoder = new TextEncoder();

/** Computes credential tags with one secret; see {@linkcode credentialTagger}. */
export type CredentialTagger = (
  username: string | null,
  password: string | null,
) => Promise<string>;

/**
 * The tags a member sends for the `[username, password]` pairs it accepts, and the broker
 * computes from a client's `AUTH`: HMAC-SHA256 keyed with the secret over `username NUL
 * password`, in hex. A member's passwords never travel; a client's match is found without them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { credentialTagger } from "./membership.ts";
 * const tag = credentialTagger("secret");
 * assert.equal(await tag("admin", "admin"), await tag("admin", "admin"));
 * assert.notEqual(await tag("admin", "admin"), await credentialTagger("other")("admin", "admin"));
 * assert.match(await tag(null, null), /^[0-9a-f]{64}$/);
 * ```
 */
export function credentialTagger(secret: string): CredentialTagger {
  const key = crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return async (username, password) => {
    const data = encoder.encode(`${username ?? ""}\0${password ?? ""}`);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await key, data));
    return Array.from(mac, (byte) => byte.toString(16).padStart(2, "0")).join("");
  };
}
