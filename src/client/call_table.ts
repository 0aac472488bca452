/**
 * {@linkcode CallTable}: the calls a client session waits on, by number.
 *
 * @module
 */

// Slots a table starts with and grows to, at most (doubling when half full and a slot is taken).
const MIN_SLOTS = 64;
const MAX_SLOTS = 4096;
// An empty slot's key: NaN equals no key, -1 (no call, from `CallIds.keyOf`) included.
const EMPTY = NaN;

/**
 * Values by call number, for a table whose keys only grow and whose entries come and go all the
 * time: every call is added once and removed once, a few hundred in it at a time.
 *
 * Call `key` lives in slot `key % slots` of an array, or, if an older call still holds that slot
 * (a long one, with many calls made since), in a `Map` beside it. Not a `Map` alone: under that
 * churn V8 rehashes a `Map` into a new table every few hundred calls, and the old tables, linked
 * to their successors, kept what they held alive through young-generation collections until the
 * next full one. Measured on `AsyncRPC` pipelining 256 calls (`--trace-gc-nvp`): 13% of what the
 * client allocated survived each scavenge with a `Map`, 2% with slots. A dictionary object does
 * as well for the collector, but costs more per insert and delete than the slots.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CallTable } from "./call_table.ts";
 * const calls = new CallTable<string>();
 * calls.set(1, "add");
 * calls.set(2, "echo");
 * calls.set(1 + 64, "slow"); // slot 1 is taken: kept beside the slots
 * assert.equal(calls.get(65), "slow");
 * assert.equal(calls.delete(1), true);
 * assert.equal(calls.delete(1), false);
 * assert.deepEqual(calls.values().sort(), ["echo", "slow"]);
 * ```
 */
export class CallTable<V> {
  #keys = new Float64Array(MIN_SLOTS).fill(EMPTY);
  #values: (V | undefined)[] = new Array(MIN_SLOTS).fill(undefined);
  // Slots in use, and the entries whose slot was taken.
  #used = 0;
  #others?: Map<number, V>;

  /** The value of call `key`, if it is in the table. */
  get(key: number): V | undefined {
    const slot = key & (this.#keys.length - 1);
    if (this.#keys[slot] === key) return this.#values[slot];
    return this.#others?.get(key);
  }

  /** Whether call `key` is in the table. */
  has(key: number): boolean {
    return this.get(key) !== undefined;
  }

  /** Puts `value` in for call `key` (an integer, at least 0), which is not in the table. */
  set(key: number, value: V): void {
    let slot = key & (this.#keys.length - 1);
    if (!isEmpty(this.#keys[slot]) && 2 * this.#used >= this.#keys.length) {
      if (this.#keys.length < MAX_SLOTS) {
        this.#grow();
        slot = key & (this.#keys.length - 1);
      }
    }
    if (!isEmpty(this.#keys[slot])) {
      (this.#others ??= new Map()).set(key, value);
      return;
    }
    this.#keys[slot] = key;
    this.#values[slot] = value;
    this.#used++;
  }

  /** Takes call `key` out; whether it was in. */
  delete(key: number): boolean {
    const slot = key & (this.#keys.length - 1);
    if (this.#keys[slot] !== key) return this.#others?.delete(key) ?? false;
    this.#keys[slot] = EMPTY;
    this.#values[slot] = undefined;
    this.#used--;
    return true;
  }

  /** The values, in no particular order; a copy, so entries may be deleted meanwhile. */
  values(): V[] {
    const values: V[] = [];
    for (let slot = 0; slot < this.#keys.length; slot++) {
      if (!isEmpty(this.#keys[slot])) values.push(this.#values[slot]!);
    }
    if (this.#others) values.push(...this.#others.values());
    return values;
  }

  // Twice the slots, each entry in its slot among them (entries of distinct slots keep distinct
  // slots: none has to go beside them).
  #grow(): void {
    const keys = this.#keys;
    const values = this.#values;
    this.#keys = new Float64Array(2 * keys.length).fill(EMPTY);
    this.#values = new Array(2 * keys.length).fill(undefined);
    this.#used = 0;
    for (let slot = 0; slot < keys.length; slot++) {
      if (!isEmpty(keys[slot])) this.set(keys[slot], values[slot]!);
    }
  }
}

function isEmpty(key: number): boolean {
  return Number.isNaN(key);
}
