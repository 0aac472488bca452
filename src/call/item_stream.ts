/**
 * The receiving side of a streamed result: items arrive from the connection (or a worker) and
 * are read by the caller at its own pace.
 *
 * @module
 */

/**
 * An async iterator fed by pushes. A failure is delivered only after every item pushed before it
 * has been read. A plain iterator rather than a `ReadableStream`: a stream pays several promise
 * hops per item, which dominated long streams (most of all on Node).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ItemStream } from "./item_stream.ts";
 * const items = new ItemStream();
 * items.push(1);
 * items.fail(new Error("broke"));
 * assert.deepEqual(await items.next(), { value: 1, done: false });
 * await assert.rejects(items.next(), /broke/);
 * ```
 */
export class ItemStream implements AsyncIterableIterator<unknown> {
  /** Whether the reader stopped early (for example by breaking out of `for await`). */
  cancelled = false;

  readonly #onCancel?: () => void;
  readonly #onTake?: () => void;
  #items: unknown[] = [];
  // The size of each item as its sender counted it (flow control's bytes), beside #items.
  #sizes: number[] = [];
  #bytes = 0;
  #head = 0;
  #ended = false;
  #failure?: { error: unknown };
  #wake?: () => void;

  /**
   * Creates an empty stream; `onCancel` runs if the reader stops early, and `onTake` each time
   * the reader takes an item (flow control counts them to let more come).
   */
  constructor(onCancel?: () => void, onTake?: () => void) {
    this.#onCancel = onCancel;
    this.#onTake = onTake;
  }

  /** Items pushed and not yet read. */
  get buffered(): number {
    return this.#items.length - this.#head;
  }

  /** The sizes given with the items pushed and not yet read, added up. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Adds an item of `size` bytes (for {@linkcode ItemStream.bufferedBytes}); dropped if the reader stopped. */
  push(item: unknown, size = 0): void {
    if (this.cancelled) return;
    this.#items.push(item);
    this.#sizes.push(size);
    this.#bytes += size;
    this.#wakeReader();
  }

  /** Ends the stream after the queued items. */
  end(): void {
    this.#ended = true;
    this.#wakeReader();
  }

  /** Fails the stream after the queued items. */
  fail(error: unknown): void {
    this.#failure = { error };
    this.end();
  }

  /** The next item, once there is one; the end; or the failure. */
  async next(): Promise<IteratorResult<unknown>> {
    while (this.#head === this.#items.length && !this.#ended) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#head < this.#items.length) {
      this.#bytes -= this.#sizes[this.#head];
      const value = this.#items[this.#head++];
      if (this.#head === this.#items.length) this.#items = [], this.#sizes = [], this.#head = 0;
      this.#onTake?.();
      return { value, done: false };
    }
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure) throw failure.error;
    return { value: undefined, done: true };
  }

  /** Stops reading: the rest is dropped as it arrives (`break` in `for await` calls this). */
  return(): Promise<IteratorResult<unknown>> {
    if (!this.#ended) {
      this.cancelled = true;
      this.#onCancel?.();
    }
    this.#ended = true;
    this.#items = [];
    this.#sizes = [];
    this.#bytes = 0;
    this.#head = 0;
    // A next() still waiting (its caller gave up on it) ends now instead of waiting forever.
    this.#wakeReader();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** Itself: `for await (const item of stream)`. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  #wakeReader(): void {
    this.#wake?.();
    this.#wake = undefined;
  }
}
