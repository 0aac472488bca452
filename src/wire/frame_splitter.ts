/**
 * Inbound framing: {@linkcode FrameSplitter}, a `TransformStream` from socket chunks to batches of
 * payloads, split on the `##PRO-END##` terminator (MPRPC 0.1) or by length prefix (`len32`).
 *
 * @module
 */
import { ProtocolException } from "../protocol/errors.ts";
import { indexOfTerminator, T, terminatorAt } from "./terminator.ts";
import type { Stage, StageOutput } from "./pull_through.ts";

/** The default bound on one message, and on the bytes buffered while waiting for a terminator. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1 && chunks[0].length === size) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - at));
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// Marks the batches split on terminators, for the decoder (see isTerminated).
const TERMINATED = Symbol("split on terminators");

/**
 * Whether {@linkcode FrameSplitter} split `batch` on terminators, not by length (`len32`): only
 * then may a payload be a message cut short by a terminator inside it, to be joined with the next.
 */
export function isTerminated(batch: Uint8Array[]): boolean {
  return (batch as { [TERMINATED]?: true })[TERMINATED] === true;
}

/** Options of {@linkcode FrameSplitter}. */
export interface FrameSplitterOptions {
  /** The most bytes one message may have; more is a {@linkcode ProtocolException}. */
  maxMessageSize?: number;
}

// The most bytes one frame may have now, shared by the splitter and its framers.
interface Limit {
  bytes: number;
}

// Turns received chunks into frames, appending each completed frame to `batch`.
interface Framer {
  push(chunk: Uint8Array, batch: Uint8Array[]): void;
}

// MPRPC 0.1: frames end with the terminator, which may straddle chunks.
class TerminatorFramer implements Framer {
  #pending: Uint8Array[] = [];
  #size = 0;
  readonly #limit: Limit;

  constructor(limit: Limit) {
    this.#limit = limit;
  }

  push(chunk: Uint8Array, batch: Uint8Array[]): void {
    let start = 0;
    if (this.#size > 0) {
      const end = this.#straddleEnd(chunk);
      if (end !== -1) {
        this.#emit(batch, this.#size + end - T);
        start = end;
      }
    }
    for (
      let at = indexOfTerminator(chunk, start);
      at !== -1;
      at = indexOfTerminator(chunk, start)
    ) {
      if (this.#size === 0) {
        this.#check(at - start);
        batch.push(chunk.subarray(start, at));
      } else {
        this.#pending.push(chunk.subarray(start, at));
        this.#emit(batch, this.#size + at - start);
      }
      start = at + T;
    }
    if (start < chunk.length) {
      this.#pending.push(chunk.subarray(start));
      this.#size += chunk.length - start;
      this.#check(this.#size);
    }
  }

  // The bytes received and not yet part of a frame.
  rest(): Uint8Array[] {
    return this.#pending;
  }

  #check(size: number): void {
    if (size > this.#limit.bytes) {
      throw new ProtocolException(
        `message exceeds the ${this.#limit.bytes}-byte limit (${size} bytes buffered)`,
      );
    }
  }

  // Completes the buffered frame: its first `size` buffered bytes (the rest is terminator).
  #emit(batch: Uint8Array[], size: number): void {
    this.#check(size);
    batch.push(concat(this.#pending, size));
    this.#pending = [];
    this.#size = 0;
  }

  // A terminator that began in the buffered bytes and ends in `chunk`: the index in `chunk`
  // just past it, or -1. Only the buffered tail is copied, never the whole buffer.
  #straddleEnd(chunk: Uint8Array): number {
    const tailLength = Math.min(this.#size, T - 1);
    const window = new Uint8Array(tailLength + Math.min(chunk.length, T - 1));
    for (let i = this.#pending.length - 1, at = tailLength; at > 0; i--) {
      const piece = this.#pending[i];
      const take = Math.min(at, piece.length);
      window.set(piece.subarray(piece.length - take), at - take);
      at -= take;
    }
    window.set(chunk.subarray(0, window.length - tailLength), tailLength);
    for (let p = 0; p < tailLength && p + T <= window.length; p++) {
      if (terminatorAt(window, p)) return p + T - tailLength;
    }
    return -1;
  }
}

function uint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

// The len32 extension: each frame is a 4-byte big-endian length, then that many bytes. Frames
// wholly inside a chunk are cut out by offset; only a frame straddling chunks is buffered.
class LengthFramer implements Framer {
  #pending: Uint8Array[] = [];
  #size = 0;
  #length = -1;
  readonly #limit: Limit;

  constructor(limit: Limit) {
    this.#limit = limit;
  }

  push(chunk: Uint8Array, batch: Uint8Array[]): void {
    // A frame begun earlier: some bytes buffered, or its header read and no body yet.
    if (this.#size > 0 || this.#length !== -1) {
      chunk = this.#completeBuffered(chunk, batch);
      if (chunk.length === 0) return;
    }
    let at = 0;
    while (chunk.length - at >= 4) {
      const length = this.#checked(uint32(chunk, at));
      if (chunk.length - at - 4 < length) break;
      batch.push(chunk.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    if (at < chunk.length) {
      this.#pending.push(chunk.subarray(at));
      this.#size = chunk.length - at;
    }
  }

  // Finishes the frame begun in earlier chunks; returns what is left of `chunk` after it.
  #completeBuffered(chunk: Uint8Array, batch: Uint8Array[]): Uint8Array {
    this.#pending.push(chunk);
    this.#size += chunk.length;
    if (this.#length === -1) {
      if (this.#size < 4) return chunk.subarray(chunk.length);
      this.#length = this.#checked(uint32(this.#take(4), 0));
    }
    if (this.#size < this.#length) return chunk.subarray(chunk.length);
    batch.push(this.#take(this.#length));
    this.#length = -1;
    // Only the tail of `chunk` can be left: hand it back to the fast path.
    const tail = this.#pending.length === 0 ? chunk.subarray(chunk.length) : this.#pending[0];
    this.#pending = [];
    this.#size = 0;
    return tail;
  }

  #checked(length: number): number {
    if (length > this.#limit.bytes) {
      throw new ProtocolException(
        `message of ${length} bytes exceeds the ${this.#limit.bytes}-byte limit`,
      );
    }
    return length;
  }

  // Removes the next `n` buffered bytes; no copy when they lie in one chunk.
  #take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    this.#size -= n;
    const first = this.#pending[0];
    if (first.length >= n) {
      if (first.length === n) this.#pending.shift();
      else this.#pending[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    for (let at = 0; at < n;) {
      const piece = this.#pending[0];
      const take = Math.min(piece.length, n - at);
      out.set(piece.subarray(0, take), at);
      at += take;
      if (take === piece.length) this.#pending.shift();
      else this.#pending[0] = piece.subarray(take);
    }
    return out;
  }
}

/**
 * The logic of {@linkcode FrameSplitter}, as a {@linkcode Stage}: each chunk yields one batch
 * holding every payload it completed (none yields nothing). A connection links it into its
 * pipeline with {@linkcode pullThrough}; see {@linkcode FrameSplitter} for the rest.
 */
export class Splitting implements Stage<Uint8Array, Uint8Array[]> {
  readonly #limit: Limit;
  readonly #terminated: TerminatorFramer;
  #framer: Framer;
  #output?: StageOutput<Uint8Array[]>;

  /** Creates a splitter bounded by `options.maxMessageSize`. */
  constructor(options: FrameSplitterOptions = {}) {
    this.#limit = { bytes: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE };
    this.#framer = this.#terminated = new TerminatorFramer(this.#limit);
  }

  /** Keeps `output`, for the bytes re-read by {@linkcode Splitting.useLength32}. */
  start(output: StageOutput<Uint8Array[]>): void {
    this.#output = output;
  }

  /** Splits one chunk; enqueues the batch of payloads it completed, if any. */
  transform(chunk: Uint8Array, output: StageOutput<Uint8Array[]>): void {
    this.#split([chunk], output);
  }

  /** From now on, at most `bytes` bytes in one message (a server allows little before login). */
  limit(bytes: number): void {
    this.#limit.bytes = bytes;
  }

  /** From now on, frames are length-prefixed (`len32`); bytes already buffered are re-read so. */
  useLength32(): void {
    if (this.#framer !== this.#terminated) return;
    this.#framer = new LengthFramer(this.#limit);
    // Bytes the peer sent ahead of the switch are re-read now, outside any transform: what is
    // wrong with them errors the stream, as it would in one.
    const output = this.#output!;
    try {
      this.#split(this.#terminated.rest(), output);
    } catch (err) {
      output.error(err);
    }
  }

  #split(chunks: Uint8Array[], output: StageOutput<Uint8Array[]>): void {
    const batch: Uint8Array[] = [];
    for (const chunk of chunks) this.#framer.push(chunk, batch);
    if (batch.length === 0) return;
    if (this.#framer === this.#terminated) (batch as { [TERMINATED]?: true })[TERMINATED] = true;
    output.enqueue(batch);
  }
}

/**
 * Splits a byte stream into payloads: on the terminator (MPRPC 0.1), or by length prefix once
 * {@linkcode FrameSplitter.useLength32} is called (the negotiated `len32` extension). Each input
 * chunk yields one batch holding every payload it completed (none yields nothing), so a busy
 * pipelined connection pays the stream's per-chunk cost once per read, not once per message.
 * Batches split on terminators are marked so ({@linkcode isTerminated}): a payload there may be a
 * message that a terminator inside it cut short, which the decoder joins with the next ones.
 * More than `maxMessageSize` bytes in one message errors the stream with a
 * {@linkcode ProtocolException}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameSplitter } from "./frame_splitter.ts";
 * const bytes = new TextEncoder().encode("a##PRO-END##b##PRO-END##");
 * const batches = ReadableStream.from([bytes]).pipeThrough(new FrameSplitter());
 * const text = (payload: Uint8Array) => new TextDecoder().decode(payload);
 * for await (const batch of batches) assert.deepEqual(batch.map(text), ["a", "b"]);
 * ```
 */
export class FrameSplitter extends TransformStream<Uint8Array, Uint8Array[]> {
  readonly #splitting: Splitting;

  /** Creates a splitter bounded by `options.maxMessageSize`. */
  constructor(options: FrameSplitterOptions = {}) {
    const splitting = new Splitting(options);
    super({
      start: (controller) => splitting.start(controller),
      transform: (chunk, controller) => splitting.transform(chunk, controller),
    });
    this.#splitting = splitting;
  }

  /** From now on, at most `bytes` bytes in one message (a server allows little before login). */
  limit(bytes: number): void {
    this.#splitting.limit(bytes);
  }

  /** From now on, frames are length-prefixed (`len32`); bytes already buffered are re-read so. */
  useLength32(): void {
    this.#splitting.useLength32();
  }
}
