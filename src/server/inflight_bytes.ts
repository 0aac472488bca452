/**
 * The server's `maxInflightBytes`: the call messages all connections together hold (running,
 * waiting for a turn, or streaming), counted by their payloads' sizes. A call that does not fit
 * gets 503 at once and is never run, so many logged-in clients sending big calls together cannot
 * decode the server past its heap; each client's own calls are already bounded per connection.
 *
 * @module
 */

/**
 * Counts the bytes of call messages held server-wide against a maximum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InflightBytes } from "./inflight_bytes.ts";
 * const held = new InflightBytes(100, 60);
 * assert.equal(held.take(60), true);
 * assert.equal(held.take(50), false); // 110 would be over 100: refused, nothing taken
 * held.give(60);
 * assert.equal(held.take(50), true);
 * ```
 */
export class InflightBytes {
  /** The most bytes held at once. */
  readonly max: number;
  #held = 0;

  /**
   * Checks `max`: a whole number of bytes, at least `maxMessageSize` (so that any one message
   * fits), or `Infinity`; throws a `TypeError` otherwise.
   */
  constructor(max: number, maxMessageSize: number) {
    if (max !== Infinity && !(Number.isInteger(max) && max >= maxMessageSize)) {
      throw new TypeError(
        `maxInflightBytes must be a whole number of bytes, at least maxMessageSize (${maxMessageSize}), or Infinity; not ${max}`,
      );
    }
    this.max = max;
  }

  /** The bytes held now. */
  get held(): number {
    return this.#held;
  }

  /** Holds `bytes` more if they fit under the maximum, and says whether they did. */
  take(bytes: number): boolean {
    if (this.#held + bytes > this.max) return false;
    this.#held += bytes;
    return true;
  }

  /** Releases `bytes` taken before. */
  give(bytes: number): void {
    this.#held -= bytes;
  }
}
