/**
 * Outbound framing: {@linkcode FrameJoiner} takes payloads and hands the socket one buffer
 * holding every frame that queued up while the previous write was in flight, so many small
 * answers never mean one write each. An owner that writes with `takeQueued` and says when the
 * socket is done (`written`) gets its buffers written into again: a small one by the same joiner,
 * a big one (64 KiB and more) by any joiner of the thread, from a shared {@linkcode BufferPool}
 * that keeps up to 8 MiB.
 *
 * @module
 */
import { type Deferred, deferred } from "../util/deferred.ts";
import { TERMINATOR } from "../protocol/messages.ts";
import { T } from "./terminator.ts";
import { BufferPool } from "./buffer_pool.ts";

const EMPTY = new Uint8Array(0);
// A new write buffer is as big as the last write was, within these bounds: lone answers get a
// small one (a buffer per write is an allocation the collector counts), bursts a big one at once.
const MIN_BUFFER = 256;
const MAX_FIRST_BUFFER = 64 * 1024;
// A written buffer up to this size is kept for the next frames (see FrameJoiner.written): one
// answer at a time then allocates nothing, and an idle connection holds at most this much.
const MAX_SPARE = 2 * 1024;
// Buffers of this size and more come from, and go back to, a pool all of this thread's joiners
// share.
const POOLED_FROM = 64 * 1024;
const pool = new BufferPool(8 * 1024 * 1024);

/** Options of {@linkcode FrameJoiner}. */
export interface FrameJoinerOptions {
  /** Queued bytes past which {@linkcode FrameJoiner.push} asks the caller to wait. */
  highWaterMark?: number;
}

/**
 * Joins payloads into frames and coalesces them: {@linkcode FrameJoiner.takeQueued} returns one
 * buffer with every frame pushed since it was last called, so that many small answers, pushed
 * while a socket write is in flight, never mean one write each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameJoiner } from "./frame_joiner.ts";
 * const joiner = new FrameJoiner();
 * joiner.push(new Uint8Array([1]));
 * joiner.push(new Uint8Array([2]));
 * const frames = joiner.takeQueued(); // both frames, one buffer
 * assert.equal(frames?.length, 2 * (1 + 11)); // two payloads, each with its terminator
 * assert.equal(joiner.takeQueued(), undefined);
 * ```
 */
export class FrameJoiner {
  readonly #highWaterMark: number;
  // The frames queued, written in as they are pushed: the next socket write takes the buffer
  // whole, and the next push starts a new one (the write may still be reading this one).
  #buffer = EMPTY;
  // Bytes queued, framing included.
  #size = 0;
  // The size of the last buffer handed to the socket.
  #lastWrite = 0;
  // The whole buffer of the last write, while the socket may still be reading it.
  #writing?: Uint8Array<ArrayBuffer>;
  // A small written buffer the next frames may be written into instead of a new one.
  #spare?: Uint8Array<ArrayBuffer>;
  #length32 = false;
  #closed = false;
  #drained?: Deferred<void>;

  /** Creates a joiner; `push` asks callers to wait once `highWaterMark` bytes (default 1 MiB) are queued. */
  constructor(options: FrameJoinerOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024;
  }

  /**
   * Queues one payload (which must pass {@linkcode assertFramable}), `head` then `payload` if a
   * head is given, copying it: the caller may reuse its buffers at once. Returns a promise to wait
   * on when too much is queued, otherwise nothing, so the common case costs no promise.
   */
  push(payload: Uint8Array, head: Uint8Array = EMPTY): Promise<void> | undefined {
    const n = head.length + payload.length;
    const frame = n + (this.#length32 ? 4 : T);
    let at = this.#reserve(frame);
    const out = this.#buffer;
    if (this.#length32) {
      out[at] = n >>> 24;
      out[at + 1] = (n >>> 16) & 0xff;
      out[at + 2] = (n >>> 8) & 0xff;
      out[at + 3] = n & 0xff;
      at += 4;
    }
    out.set(head, at);
    out.set(payload, at + head.length);
    if (!this.#length32) out.set(TERMINATOR, at + n);
    // Counted once written: a buffer may be a reused one, and nothing unwritten may leave in it.
    this.#size += frame;
    if (this.#size <= this.#highWaterMark) return undefined;
    this.#drained ??= deferred();
    return this.#drained.promise;
  }

  /** Everything queued, framed, in one buffer, for the socket; `undefined` when nothing is. */
  takeQueued(): Uint8Array | undefined {
    if (this.#size === 0) return undefined;
    this.#writing = this.#buffer;
    return this.#take();
  }

  /**
   * Says that the socket is done with `chunk`, which {@linkcode takeQueued} returned: if it was
   * the last one taken, its buffer is then written into again, by this joiner if small, else by
   * any joiner of the thread. One write at a time: a buffer taken before the last one is never
   * reused; nor is one whose write failed (the caller does not call this).
   */
  written(chunk: Uint8Array): void {
    const buffer = this.#writing;
    if (!buffer || chunk.buffer !== buffer.buffer) return;
    this.#writing = undefined;
    if (buffer.length <= MAX_SPARE) this.#spare = buffer;
    else if (buffer.length >= POOLED_FROM) pool.give(buffer);
  }

  /** The bytes queued, framing included. */
  get queued(): number {
    return this.#size;
  }

  /** Whether more than the high-water mark is queued, waiting for the socket. */
  get backlogged(): boolean {
    return this.#size > this.#highWaterMark;
  }

  /** Resolves once the queue has been handed to the socket (or the joiner closed). */
  drained(): Promise<void> {
    if (this.#size === 0 || this.#closed) return Promise.resolve();
    this.#drained ??= deferred();
    return this.#drained.promise;
  }

  /** Frames pushed from now on are length-prefixed (`len32`) instead of terminated. */
  useLength32(): void {
    this.#length32 = true;
  }

  /**
   * Nothing more will be pushed; what is queued can still be taken. A caller waiting on `push` is
   * released at once: waiting for the queue to drain (which a peer that stopped reading may never
   * let happen) would only hold that caller forever.
   */
  close(): void {
    this.#closed = true;
    this.#release();
  }

  /** Closes, dropping what is queued. */
  abort(): void {
    this.#buffer = EMPTY;
    this.#spare = undefined;
    this.#size = 0;
    this.close();
  }

  #take(): Uint8Array {
    const out = this.#buffer.subarray(0, this.#size);
    this.#lastWrite = this.#size;
    this.#buffer = EMPTY;
    this.#size = 0;
    this.#release();
    return out;
  }

  #release(): void {
    this.#drained?.resolve();
    this.#drained = undefined;
  }

  // Makes room for a frame of `bytes` bytes after what is queued; where it starts. A new buffer
  // starts at the last write's size and doubles: answers that queue up while a write is in flight
  // are copied a few times at most. The spare stands in for a new buffer only if it is as big.
  #reserve(bytes: number): number {
    const at = this.#size;
    const needed = at + bytes;
    if (needed > this.#buffer.length) {
      const first = Math.min(Math.max(this.#lastWrite, MIN_BUFFER), MAX_FIRST_BUFFER);
      const length = Math.max(needed, 2 * this.#buffer.length, first);
      const spare = this.#spare;
      this.#spare = undefined;
      if (at === 0 && spare && spare.length >= length) {
        this.#buffer = spare;
        return at;
      }
      const grown = length >= POOLED_FROM ? pool.take(length) : new Uint8Array(length);
      grown.set(this.#buffer.subarray(0, at));
      // Only this joiner has seen the buffer outgrown: it can go back at once.
      if (this.#buffer.length >= POOLED_FROM) pool.give(this.#buffer);
      this.#buffer = grown;
    }
    return at;
  }
}
