/**
 * Throttling of failed logins per remote address. After a failed login, the next login from the
 * same address is checked only after a delay that doubles with each failure (100 ms, 200 ms, … up
 * to 5 s), and logins from one address are checked one delay apart however many connections it
 * opens at once. Successes are not counted: they would let someone who knows one pair reset the
 * count while guessing another. Other addresses are unaffected.
 *
 * @module
 */
import type { Logger } from "../util/logger.ts";

/** The delay after the first failure; it doubles with each further one. */
export const FIRST_DELAY = 100;
/** The longest delay between two logins checked from one address. */
export const MAX_DELAY = 5_000;
/** An address whose last turn is this long past starts afresh. */
export const QUIET = 60_000;
/** The longest a login waits for its turn; one that would wait longer is refused unchecked. */
export const MAX_WAIT = 30_000;
/** Throttled refusals of one address are logged at most this often. */
const LOG_INTERVAL = 10_000;

/** Options of {@linkcode LoginThrottle}. */
export interface LoginThrottleOptions {
  /** The most addresses remembered; past it the one that failed least recently is forgotten. */
  maxAddresses?: number;
  /** Where refusals of logins whose turn is too far off are reported. */
  logger?: Logger;
}

interface Entry {
  // Failed logins since the address was last quiet.
  failures: number;
  // `Date.now()` before which no login from the address is checked.
  next: number;
  // Logins refused unchecked since the last record of them, and when that record was.
  refused: number;
  logged: number;
}

// The delay after `failures` failed logins.
function delayAfter(failures: number): number {
  return failures === 0 ? 0 : Math.min(MAX_DELAY, FIRST_DELAY * 2 ** Math.min(failures - 1, 30));
}

/**
 * The failed-login record of one server: a bounded table of remote addresses (an IPv6 address
 * counts as its /64, which one subscriber usually holds whole).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LoginThrottle } from "./login_throttle.ts";
 * const throttle = new LoginThrottle();
 * assert.equal(throttle.turn("192.0.2.1:50000", 10_000), 0); // no failure yet: checked at once
 * throttle.failed("192.0.2.1:50000");
 * assert.ok(throttle.turn("192.0.2.1:50001", 10_000)! > 0); // the same address waits
 * assert.equal(throttle.turn("192.0.2.2:50000", 10_000), 0); // another does not
 * ```
 */
export class LoginThrottle {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #logger?: Logger;

  /** Creates an empty table. */
  constructor(options: LoginThrottleOptions = {}) {
    this.#max = options.maxAddresses ?? 10_000;
    this.#logger = options.logger;
  }

  /** How many addresses are remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Reserves the turn of a login from `peer` (`host:port`, of user `user`): the milliseconds it
   * must wait before its credentials are checked (0: at once), or `undefined` if that would be
   * more than `maxWait` (and {@linkcode MAX_WAIT}): it is then to be refused without being
   * checked, reserves nothing, and is logged as `login throttled` (one record per address per
   * 10 s, counting the refusals since the last). The next login from the address is checked one
   * delay after this one.
   */
  turn(peer: string, maxWait: number, user: string | null = null): number | undefined {
    const now = Date.now();
    const entry = this.#live(addressKey(peer), now);
    if (!entry) return 0;
    const at = Math.max(now, entry.next);
    if (at - now > Math.min(maxWait, MAX_WAIT)) {
      this.#refused(entry, peer, user, now);
      return undefined;
    }
    entry.next = at + delayAfter(entry.failures);
    return at - now;
  }

  /** Counts a failed login from `peer`: the next one from its address waits longer. */
  failed(peer: string): void {
    const now = Date.now();
    const key = addressKey(peer);
    const entry = this.#live(key, now) ?? { failures: 0, next: now, refused: 0, logged: -Infinity };
    entry.failures++;
    entry.next = Math.max(entry.next, now + delayAfter(entry.failures));
    // Kept in the order of their last failure: the first is the one to forget.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  // The entry of `key`, unless its address has been quiet long enough to start afresh.
  #live(key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && now - entry.next > QUIET) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  // A flood of connections from one address is one record per LOG_INTERVAL, with a count.
  #refused(entry: Entry, peer: string, user: string | null, now: number): void {
    entry.refused++;
    if (now - entry.logged < LOG_INTERVAL) return;
    this.#logger?.warn("login throttled", {
      peer,
      user,
      failures: entry.failures,
      refused: entry.refused,
    });
    entry.logged = now;
    entry.refused = 0;
  }
}

/**
 * The address part of `peer` (`host:port`) that logins are counted by: the IP address, an IPv4
 * address mapped into IPv6 as IPv4, and an IPv6 address as its /64 prefix.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressKey } from "./login_throttle.ts";
 * assert.equal(addressKey("192.0.2.1:5000"), "192.0.2.1");
 * assert.equal(addressKey("::ffff:192.0.2.1:5000"), "192.0.2.1");
 * assert.equal(addressKey("2001:db8:0:1:aaaa::1:5000"), "2001:db8:0:1::/64");
 * assert.equal(addressKey("[2001:db8::1]:5000"), "2001:db8:0:0::/64");
 * ```
 */
export function addressKey(peer: string): string {
  const host = peer.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return mapped[1];
  if (!host.includes(":")) return host;
  const groups = ipv6Groups(host);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : host;
}

// The eight groups of an IPv6 address, without leading zeros; an embedded IPv4 address counts as
// the last two. `undefined` if it is not one.
function ipv6Groups(host: string): string[] | undefined {
  const halves = host.toLowerCase().split("::");
  if (halves.length > 2) return undefined;
  const split = (part: string) =>
    part === ""
      ? []
      : part.split(":").flatMap((group) => group.includes(".") ? ["0", "0"] : [group]);
  const head = split(halves[0]);
  const tail = halves.length === 2 ? split(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  if (![...head, ...tail].every((group) => /^[0-9a-f]{1,4}$/.test(group))) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  return groups.map((group) => parseInt(group, 16).toString(16));
}
