/**
 * Outbound framing: {@linkcode FrameJoiner} takes payloads and hands the socket one buffer
 * holding every frame that queued up while the previous write was in flight, so many small
 * answers never mean one write each.
 *
 * @module
 */
import { type Deferred, deferred } from "../util/deferred.ts";
import { TERMINATOR } from "../protocol/messages.ts";
import { T } from "./terminator.ts";

/** Options of {@linkcode FrameJoiner}. */
export interface FrameJoinerOptions {
  /** Queued bytes past which {@linkcode FrameJoiner.push} asks the caller to wait. */
  highWaterMark?: number;
}

/**
 * Joins payloads into frames and coalesces them: each read of `readable` returns one buffer with
 * every frame pushed since the previous read, so many small answers never mean one socket write
 * each. Pipe `readable` into the socket.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameJoiner } from "./frame_joiner.ts";
 * const joiner = new FrameJoiner();
 * joiner.push(new Uint8Array([1]));
 * joiner.push(new Uint8Array([2]));
 * const { value } = await joiner.readable.getReader().read(); // both frames, one buffer
 * assert.equal(value?.length, 2 * (1 + 11)); // two payloads, each with its terminator
 * ```
 */
export class FrameJoiner {
  /** Coalesced frames, ready for the socket. */
  readonly readable: ReadableStream<Uint8Array>;

  readonly #highWaterMark: number;
  #pending: Uint8Array[] = [];
  // Bytes queued, framing included.
  #size = 0;
  #length32 = false;
  // Frames queued in terminator mode when the connection switched to len32.
  #preframed?: Uint8Array;
  #closed = false;
  #wakeReader?: () => void;
  #drained?: Deferred<void>;

  /** Creates a joiner; `push` asks callers to wait once `highWaterMark` bytes (default 1 MiB) are queued. */
  constructor(options: FrameJoinerOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (this.#size === 0 && !this.#closed) {
          await new Promise<void>((resolve) => this.#wakeReader = resolve);
        }
        if (this.#size === 0) return controller.close();
        controller.enqueue(this.#take());
      },
      // The socket failed under the pipe: nothing queued can be delivered any more.
      cancel: () => this.abort(),
    }, { highWaterMark: 0 });
  }

  /**
   * Queues one payload (which must pass {@linkcode assertFramable}). Returns a promise to wait
   * on when too much is queued, otherwise nothing, so the common case costs no promise.
   */
  push(payload: Uint8Array): Promise<void> | undefined {
    this.#pending.push(payload);
    this.#size += payload.length + (this.#length32 ? 4 : T);
    this.#wakeReader?.();
    this.#wakeReader = undefined;
    if (this.#size <= this.#highWaterMark) return undefined;
    this.#drained ??= deferred();
    return this.#drained.promise;
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
    if (this.#pending.length > 0) this.#preframed = this.#frames(this.#size);
    this.#length32 = true;
  }

  /**
   * Ends `readable` once what is queued has been read. A caller waiting on `push` is released
   * at once: nothing more may be pushed, so waiting for the queue to drain (which a peer that
   * stopped reading may never let happen) would only hold that caller forever.
   */
  close(): void {
    this.#closed = true;
    this.#wakeReader?.();
    this.#wakeReader = undefined;
    this.#release();
  }

  /** Ends `readable` at once, dropping what is queued. */
  abort(): void {
    this.#pending = [];
    this.#preframed = undefined;
    this.#size = 0;
    this.close();
  }

  #take(): Uint8Array {
    const out = this.#frames(this.#size);
    this.#size = 0;
    this.#release();
    return out;
  }

  #release(): void {
    this.#drained?.resolve();
    this.#drained = undefined;
  }

  // Frames everything queued into one buffer of `size` bytes, and empties the queue.
  #frames(size: number): Uint8Array {
    const out = new Uint8Array(size);
    let at = 0;
    if (this.#preframed) {
      out.set(this.#preframed);
      at = this.#preframed.length;
      this.#preframed = undefined;
    }
    for (const payload of this.#pending) {
      const n = payload.length;
      if (this.#length32) {
        out[at] = n >>> 24;
        out[at + 1] = (n >>> 16) & 0xff;
        out[at + 2] = (n >>> 8) & 0xff;
        out[at + 3] = n & 0xff;
        out.set(payload, at + 4);
        at += 4 + n;
      } else {
        out.set(payload, at);
        out.set(TERMINATOR, at + n);
        at += n + T;
      }
    }
    this.#pending = [];
    return out;
  }
}
