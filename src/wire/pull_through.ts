/**
 * {@linkcode pullThrough}: a stream stage linked to the one before it by pulling, not by a pipe.
 *
 * Each stage of the inbound pipeline is a {@linkcode Stage}, a transformer: as a
 * `TransformStream` (`FrameSplitter`, `MessageDecoder`) it can be piped through; a connection
 * links its stages with `pullThrough` instead, which costs an idle connection far less: one
 * `ReadableStream` and a reader per stage, against a `TransformStream` (two streams, two
 * controllers) and a pipe, which keeps reads, writes and their promises pending for as long as
 * the connection lives. Nothing is read ahead: a stage reads its source only when it is read.
 *
 * @module
 */

/** Where a {@linkcode Stage} puts its output. */
export interface StageOutput<O> {
  /** Passes one chunk on. */
  enqueue(chunk: O): void;
  /** Errors the stage's stream. */
  error(reason?: unknown): void;
}

/**
 * A stream stage's logic: the part of a `Transformer` that the pipeline's stages use. `transform`
 * may enqueue any number of chunks for one input chunk, none included.
 */
export interface Stage<I, O> {
  /** Called once, first, with where output goes; a stage may keep it to enqueue later. */
  start?(output: StageOutput<O>): void;
  /** Turns one input chunk into output; throwing (or rejecting) errors the stream. */
  transform(chunk: I, output: StageOutput<O>): void | Promise<void>;
}

/**
 * `stage` applied to `source`, as a `ReadableStream` that reads `source` when it is read, as
 * often as it takes to produce output: what `source.pipeThrough(new TransformStream(stage))`
 * gives a single reader, without the pipe and the transform stream's writable side. Cancelling it
 * cancels `source`, and so does a `transform` that throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pullThrough } from "./pull_through.ts";
 * const words = pullThrough(ReadableStream.from(["a b", "", "c"]), {
 *   transform(text: string, output) {
 *     for (const word of text.split(" ")) if (word) output.enqueue(word);
 *   },
 * });
 * assert.deepEqual(await Array.fromAsync(words), ["a", "b", "c"]);
 * ```
 */
export function pullThrough<I, O>(
  source: ReadableStream<I>,
  stage: Stage<I, O>,
): ReadableStream<O> {
  return new ReadableStream<O>(new PullSource(source.getReader(), stage), { highWaterMark: 0 });
}

/**
 * `first`, then `second` on each chunk `first` puts out, as one stage: one stream where a
 * connection would otherwise keep two. `first` must be synchronous. `second` may be asynchronous:
 * its work on successive chunks runs one after the other, in order, also for chunks `first` puts
 * out outside a transform (`first` keeps its output from `start`); a transform of the whole
 * resolves once `second` is done with what `first` put out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chain, pullThrough } from "./pull_through.ts";
 * const words = chain<string, string, number>(
 *   { transform: (text, out) => text.split(" ").forEach((word) => out.enqueue(word)) },
 *   { transform: async (word, out) => out.enqueue(await Promise.resolve(word.length)) },
 * );
 * const lengths = pullThrough(ReadableStream.from(["a bb", "ccc"]), words).getReader();
 * assert.deepEqual([(await lengths.read()).value, (await lengths.read()).value], [1, 2]);
 * assert.equal((await lengths.read()).value, 3);
 * ```
 */
export function chain<A, B, C>(first: Stage<A, B>, second: Stage<B, C>): Stage<A, C> {
  let output: StageOutput<C>;
  // `second`'s asynchronous work, while some runs: the next chunk waits for it.
  let running: Promise<void> | undefined;
  const middle: StageOutput<B> = {
    enqueue(chunk) {
      const work = running
        ? running.then(() => second.transform(chunk, output))
        : second.transform(chunk, output);
      if (!work) return;
      const mine = running = work;
      // A failure errors the stream at once, also for work begun outside a transform.
      mine.then(() => {
        if (running === mine) running = undefined;
      }, (reason) => output.error(reason));
    },
    error: (reason) => output.error(reason),
  };
  return {
    start(out) {
      output = out;
      first.start?.(middle);
      second.start?.(out);
    },
    transform(chunk) {
      first.transform(chunk, middle);
      return running;
    },
  };
}

// One object per stage: the underlying source, and the output the stage writes to.
class PullSource<I, O> implements StageOutput<O> {
  readonly #source: ReadableStreamDefaultReader<I>;
  readonly #stage: Stage<I, O>;
  #controller?: ReadableStreamDefaultController<O>;
  // Chunks enqueued so far: a pull reads on until this grows.
  #enqueued = 0;

  constructor(source: ReadableStreamDefaultReader<I>, stage: Stage<I, O>) {
    this.#source = source;
    this.#stage = stage;
  }

  start(controller: ReadableStreamDefaultController<O>): void {
    this.#controller = controller;
    this.#stage.start?.(this);
  }

  async pull(controller: ReadableStreamDefaultController<O>): Promise<void> {
    // A pull must enqueue something (or end the stream): a stream that has waiting reads calls
    // it again only after a read. Input that yields nothing is followed by more input.
    const before = this.#enqueued;
    while (this.#enqueued === before) {
      const { done, value } = await this.#source.read();
      if (done) return controller.close();
      try {
        await this.#stage.transform(value, this);
      } catch (err) {
        this.#source.cancel(err).catch(() => {});
        throw err;
      }
    }
  }

  cancel(reason: unknown): Promise<void> {
    return this.#source.cancel(reason);
  }

  enqueue(chunk: O): void {
    this.#enqueued++;
    this.#controller!.enqueue(chunk);
  }

  error(reason?: unknown): void {
    this.#controller!.error(reason);
  }
}
