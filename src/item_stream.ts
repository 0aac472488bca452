/**
 * The client side of a streamed result: items arrive from the connection and are read by the
 * caller at its own pace.
 *
 * @module
 */

/**
 * A `ReadableStream` fed by pushes. Unlike `controller.error()`, a failure is delivered only after
 * every item pushed before it has been read.
 *
 * @example
 * ```ts
 * import { ItemStream } from "./item_stream.ts";
 * const items = new ItemStream();
 * items.push(1);
 * items.fail(new Error("broke"));
 * const reader = items.readable.getReader();
 * console.log(await reader.read()); // { value: 1, done: false }
 * await reader.read().catch((e) => console.log(e.message)); // broke
 * ```
 */
export class ItemStream {
  /** The items, then the end or the failure. */
  readonly readable: ReadableStream<unknown>;
  /** Whether the reader cancelled (for example by breaking out of `for await`). */
  cancelled = false;

  #items: unknown[] = [];
  #head = 0;
  #ended = false;
  #failure?: unknown;
  #wake?: () => void;

  /** Creates an empty stream; `onCancel` runs if the reader cancels. */
  constructor(onCancel?: () => void) {
    this.readable = new ReadableStream({
      pull: async (controller) => {
        while (this.#head === this.#items.length && !this.#ended) {
          await new Promise<void>((resolve) => this.#wake = resolve);
        }
        if (this.#head < this.#items.length) {
          controller.enqueue(this.#items[this.#head++]);
          if (this.#head === this.#items.length) this.#items = [], this.#head = 0;
        } else if (this.#failure !== undefined) controller.error(this.#failure);
        else controller.close();
      },
      cancel: () => {
        this.cancelled = true;
        this.#items = [];
        this.#head = 0;
        onCancel?.();
      },
    }, { highWaterMark: 0 });
  }

  /** Adds an item; dropped if the reader cancelled. */
  push(item: unknown): void {
    if (this.cancelled) return;
    this.#items.push(item);
    this.#wakeReader();
  }

  /** Ends the stream after the queued items. */
  end(): void {
    this.#ended = true;
    this.#wakeReader();
  }

  /** Fails the stream after the queued items. */
  fail(error: unknown): void {
    this.#failure = error;
    this.end();
  }

  #wakeReader(): void {
    this.#wake?.();
    this.#wake = undefined;
  }
}
