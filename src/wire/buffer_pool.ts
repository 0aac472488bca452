/**
 * {@linkcode BufferPool}: big write buffers, lent and given back.
 *
 * @module
 */

/**
 * Buffers lent out and given back, for frames too big for a connection to keep a buffer of its
 * own: the connections of a thread share one pool, so that big answers in a row allocate nothing
 * outside the heap, and the collector, which runs by how much was allocated there, runs less. It
 * keeps at most `maxBytes`, which is all an idle server holds in it. A buffer it lends is not
 * cleared: its user writes before it reads.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BufferPool } from "./buffer_pool.ts";
 * const pool = new BufferPool(4096);
 * const first = pool.take(1000);
 * pool.give(first);
 * assert.equal(pool.take(800), first); // big enough: lent again
 * assert.notEqual(pool.take(800), first); // not given back yet: a new one
 * ```
 */
export class BufferPool {
  /** The most bytes the pool keeps. */
  readonly maxBytes: number;
  #free: Uint8Array<ArrayBuffer>[] = [];
  #bytes = 0;

  /** A pool that keeps at most `maxBytes`. */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** A buffer of at least `size` bytes: the smallest kept one that is big enough, or a new one. */
  take(size: number): Uint8Array<ArrayBuffer> {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const length = this.#free[i].length;
      if (length >= size && (best === -1 || length < this.#free[best].length)) best = i;
    }
    if (best === -1) return new Uint8Array(size);
    const buffer = this.#free[best];
    this.#free[best] = this.#free[this.#free.length - 1];
    this.#free.pop();
    this.#bytes -= buffer.length;
    return buffer;
  }

  /**
   * Gives back a buffer nothing uses any more. It is kept if there is room for it, made if need be
   * by dropping smaller kept ones (a big buffer costs more to make again); otherwise dropped.
   */
  give(buffer: Uint8Array<ArrayBuffer>): void {
    if (buffer.length > this.maxBytes) return;
    this.#free.sort((a, b) => a.length - b.length);
    let room = this.maxBytes - this.#bytes;
    let drop = 0;
    while (room < buffer.length && drop < this.#free.length) {
      if (this.#free[drop].length >= buffer.length) return;
      room += this.#free[drop++].length;
    }
    if (room < buffer.length) return;
    for (const dropped of this.#free.splice(0, drop)) this.#bytes -= dropped.length;
    this.#free.push(buffer);
    this.#bytes += buffer.length;
  }
}
