/**
 * {@linkcode CallIds}: the IDs a client gives its calls, `prefix` then the call's number, written
 * and read as bytes.
 *
 * @module
 */

const ZERO = 0x30;
const NINE = 0x39;
// The most digits a call number has: below 2^53.
const MAX_DIGITS = 16;

/**
 * A client connection's call IDs: a prefix of its own (ASCII) then the call's number in decimal,
 * with no leading zero. Calls need IDs unique among one connection's calls, nothing more, and this
 * kind is cheaper to make, send and match than UUIDs: the codec writes the number's digits
 * straight into the call's bytes and reads them back from an answer's, with no string made on
 * either side (see `Codec.encodeCall` and `Codec.decodeAnswer`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CallIds } from "./call_ids.ts";
 * const ids = new CallIds("7f3a.");
 * assert.equal(ids.id(42), "7f3a.42");
 * assert.equal(ids.keyOf("7f3a.42"), 42);
 * assert.equal(ids.keyOf("7f3a.042"), -1); // not an ID this connection made
 * assert.equal(ids.keyOf("other.42"), -1);
 * ```
 */
export class CallIds {
  /** What every ID starts with. */
  readonly prefix: string;
  readonly #bytes: Uint8Array;

  /**
   * IDs starting with `prefix`: printable ASCII (one byte a character), at most 200 characters,
   * so that an ID is at most a `str 8`.
   */
  constructor(prefix: string) {
    if (!/^[\x20-\x7e]{0,200}$/.test(prefix)) {
      throw new TypeError(
        `a call ID prefix is printable ASCII, at most 200 characters: '${prefix}'`,
      );
    }
    this.prefix = prefix;
    this.#bytes = new TextEncoder().encode(prefix);
  }

  /** The ID of call `key`. */
  id(key: number): string {
    return this.prefix + key;
  }

  /** The call number in `id`, or -1 if `id` is not exactly an ID of these. */
  keyOf(id: unknown): number {
    if (typeof id !== "string" || !id.startsWith(this.prefix)) return -1;
    const from = this.prefix.length;
    if (!canonical(id.length - from, id.charCodeAt(from))) return -1;
    let key = 0;
    for (let i = from; i < id.length; i++) {
      const c = id.charCodeAt(i);
      if (c < ZERO || c > NINE) return -1;
      key = key * 10 + (c - ZERO);
    }
    return key <= Number.MAX_SAFE_INTEGER ? key : -1;
  }

  /**
   * Writes the MessagePack string of call `key`'s ID into `out` at `at`, which has room for
   * {@linkcode CallIds.maxBytes}; where it ends.
   */
  write(key: number, out: Uint8Array, at: number): number {
    let n = 1;
    for (let power = 10; key >= power; power *= 10) n++;
    const length = this.#bytes.length + n;
    // fixstr below 32 bytes, else str 8 (a prefix of 200 and 16 digits fit).
    if (length < 32) {
      out[at++] = 0xa0 | length;
    } else {
      out[at++] = 0xd9;
      out[at++] = length;
    }
    out.set(this.#bytes, at);
    at += this.#bytes.length + n;
    for (let i = 1, rest = key; i <= n; i++, rest = Math.floor(rest / 10)) {
      out[at - i] = ZERO + (rest % 10);
    }
    return at;
  }

  /** The most bytes {@linkcode CallIds.write} writes. */
  get maxBytes(): number {
    return 2 + this.#bytes.length + MAX_DIGITS;
  }

  /**
   * The call number of the ID whose UTF-8 bytes are `bytes[start..end)`, or -1 if they are not
   * exactly an ID of these.
   */
  read(bytes: Uint8Array, start: number, end: number): number {
    const prefix = this.#bytes;
    if (end - start <= prefix.length) return -1;
    for (let i = 0; i < prefix.length; i++) if (bytes[start + i] !== prefix[i]) return -1;
    const from = start + prefix.length;
    if (!canonical(end - from, bytes[from])) return -1;
    let key = 0;
    for (let i = from; i < end; i++) {
      const c = bytes[i];
      if (c < ZERO || c > NINE) return -1;
      key = key * 10 + (c - ZERO);
    }
    return key <= Number.MAX_SAFE_INTEGER ? key : -1;
  }
}

// Whether `n` digits starting with `first` can be a call number: no leading zero, not too many.
function canonical(n: number, first: number): boolean {
  return n > 0 && n <= MAX_DIGITS && (n === 1 || first !== ZERO);
}
