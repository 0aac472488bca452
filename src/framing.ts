/**
 * Framing: the byte stream <-> payloads, split on and joined with the `##PRO-END##` terminator.
 *
 * Inbound, {@linkcode FrameSplitter} is a `TransformStream` from socket chunks to payloads.
 * Outbound, {@linkcode FrameJoiner} takes payloads and hands the socket one buffer holding every
 * frame that queued up while the previous write was in flight, so many small answers never mean
 * one write each.
 *
 * @module
 */
import { type Deferred, deferred } from "./deferred.ts";
import { ProtocolException, ResultLimitError } from "./errors.ts";
import { TERMINATOR } from "./protocol.ts";

/** The default bound on one message, and on the bytes buffered while waiting for a terminator. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

const T = TERMINATOR.length;
const FIRST = TERMINATOR[0];

function terminatorAt(bytes: Uint8Array, at: number): boolean {
  for (let k = 0; k < T; k++) if (bytes[at + k] !== TERMINATOR[k]) return false;
  return true;
}

/** The index of the first terminator in `bytes` at or after `from`, or -1. */
export function indexOfTerminator(bytes: Uint8Array, from = 0): number {
  const last = bytes.length - T;
  for (let i = bytes.indexOf(FIRST, from); i !== -1 && i <= last; i = bytes.indexOf(FIRST, i + 1)) {
    if (terminatorAt(bytes, i)) return i;
  }
  return -1;
}

/**
 * Throws {@linkcode ResultLimitError} if `payload` cannot be framed: MPRPC 0.1 cannot escape a
 * terminator inside a payload, and sending one would desynchronise the peer.
 */
export function assertFramable(payload: Uint8Array): void {
  if (indexOfTerminator(payload) !== -1) {
    throw new ResultLimitError(
      "the encoded message contains the frame terminator, which MPRPC 0.1 cannot escape",
    );
  }
}

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

/** Options of {@linkcode FrameSplitter}. */
export interface FrameSplitterOptions {
  /** The most bytes one message may have; more is a {@linkcode ProtocolException}. */
  maxMessageSize?: number;
}

/**
 * Splits a byte stream into payloads on the terminator, which may straddle chunks. Each input
 * chunk yields one batch holding every payload it completed (none yields nothing), so a busy
 * pipelined connection pays the stream's per-chunk cost once per read, not once per message.
 * Buffering more than `maxMessageSize` bytes without a terminator errors the stream with a
 * {@linkcode ProtocolException}.
 *
 * @example
 * ```ts
 * import { FrameSplitter } from "./framing.ts";
 * const bytes = new TextEncoder().encode("a##PRO-END##b##PRO-END##");
 * const batches = ReadableStream.from([bytes]).pipeThrough(new FrameSplitter());
 * for await (const batch of batches) console.log(batch.length); // 2
 * ```
 */
export class FrameSplitter extends TransformStream<Uint8Array, Uint8Array[]> {
  /** Creates a splitter bounded by `options.maxMessageSize`. */
  constructor(options: FrameSplitterOptions = {}) {
    const max = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    let pending: Uint8Array[] = [];
    let size = 0;
    const tooBig = (n: number) =>
      new ProtocolException(`message exceeds the ${max}-byte limit (${n} bytes buffered)`);

    // A terminator that began in the buffered bytes and ends in `chunk`: returns the index in
    // `chunk` just past it, or -1.
    const straddleEnd = (chunk: Uint8Array): number => {
      const tailLength = Math.min(size, T - 1);
      const window = new Uint8Array(tailLength + Math.min(chunk.length, T - 1));
      for (let i = pending.length - 1, at = tailLength; at > 0; i--) {
        const take = Math.min(at, pending[i].length);
        window.set(pending[i].subarray(pending[i].length - take), at - take);
        at -= take;
      }
      window.set(chunk.subarray(0, window.length - tailLength), tailLength);
      for (let p = 0; p < tailLength && p + T <= window.length; p++) {
        if (terminatorAt(window, p)) return p + T - tailLength;
      }
      return -1;
    };

    super({
      transform(chunk, controller) {
        const batch: Uint8Array[] = [];
        let start = 0;
        if (size > 0) {
          const end = straddleEnd(chunk);
          if (end !== -1) {
            const frameSize = size + end - T;
            if (frameSize > max) throw tooBig(frameSize);
            batch.push(concat(pending, frameSize));
            pending = [];
            size = 0;
            start = end;
          }
        }
        for (
          let at = indexOfTerminator(chunk, start);
          at !== -1;
          at = indexOfTerminator(chunk, start)
        ) {
          const frameSize = size + at - start;
          if (frameSize > max) throw tooBig(frameSize);
          if (size === 0) batch.push(chunk.subarray(start, at));
          else {
            pending.push(chunk.subarray(start, at));
            batch.push(concat(pending, frameSize));
            pending = [];
            size = 0;
          }
          start = at + T;
        }
        if (start < chunk.length) {
          pending.push(chunk.subarray(start));
          size += chunk.length - start;
          if (size > max) throw tooBig(size);
        }
        if (batch.length > 0) controller.enqueue(batch);
      },
    });
  }
}

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
 * import { FrameJoiner } from "./framing.ts";
 * const joiner = new FrameJoiner();
 * joiner.push(new Uint8Array([1]));
 * joiner.push(new Uint8Array([2]));
 * const { value } = await joiner.readable.getReader().read(); // both frames, one buffer
 * console.log(value?.length); // 24
 * ```
 */
export class FrameJoiner {
  /** Coalesced frames, ready for the socket. */
  readonly readable: ReadableStream<Uint8Array>;

  readonly #highWaterMark: number;
  #pending: Uint8Array[] = [];
  #size = 0;
  #closed = false;
  #wakeReader?: () => void;
  #drained?: Deferred<void>;

  /** Creates a joiner; `push` asks callers to wait once `highWaterMark` bytes (default 1 MiB) are queued. */
  constructor(options: FrameJoinerOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (this.#pending.length === 0 && !this.#closed) {
          await new Promise<void>((resolve) => this.#wakeReader = resolve);
        }
        if (this.#pending.length === 0) return controller.close();
        controller.enqueue(this.#take());
      },
    }, { highWaterMark: 0 });
  }

  /**
   * Queues one payload (which must pass {@linkcode assertFramable}). Returns a promise to wait
   * on when too much is queued, otherwise nothing, so the common case costs no promise.
   */
  push(payload: Uint8Array): Promise<void> | undefined {
    this.#pending.push(payload);
    this.#size += payload.length + T;
    this.#wakeReader?.();
    this.#wakeReader = undefined;
    if (this.#size <= this.#highWaterMark) return undefined;
    this.#drained ??= deferred();
    return this.#drained.promise;
  }

  /** Ends `readable` once what is queued has been read. */
  close(): void {
    this.#closed = true;
    this.#wakeReader?.();
  }

  #take(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const payload of this.#pending) {
      out.set(payload, at);
      out.set(TERMINATOR, at + payload.length);
      at += payload.length + T;
    }
    this.#pending = [];
    this.#size = 0;
    this.#drained?.resolve();
    this.#drained = undefined;
    return out;
  }
}
