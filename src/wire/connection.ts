/**
 * One peer, client or server side: decoded messages in, messages out.
 *
 * Inbound is the socket's stream, then one stage that splits frames ({@linkcode Splitting}) and
 * decodes messages ({@linkcode messageDecoding}), {@linkcode chain}ed, linked to the socket by
 * {@linkcode pullThrough}: a connection waiting for its peer holds one pending socket read and
 * no pipes. Outbound, {@linkcode Connection.send} encodes and checks each message itself, so
 * that one that cannot be framed fails only its caller, then hands it to a
 * {@linkcode FrameJoiner} that coalesces frames into few socket writes; its frames are carried
 * to the socket's writable only while some are queued, so an idle connection holds no pending
 * write side either.
 *
 * @module
 */
import {
  callMessage,
  type Codec,
  type MessageBatch,
  messageDecoding,
  type OutgoingCall,
  type PayloadParts,
} from "./codec.ts";
import { ResultLimitError, RpcUnavailableException } from "../protocol/errors.ts";
import { FrameJoiner } from "./frame_joiner.ts";
import { Splitting } from "./frame_splitter.ts";
import { chain, pullThrough, type Stage } from "./pull_through.ts";
import { assertFramable } from "./terminator.ts";
import type { Socket } from "../platform/transport.ts";
import { type Message, VERSION } from "../protocol/messages.ts";
import type { CallIds } from "./call_ids.ts";
import { timer } from "../util/timers.ts";

function unencodable(cause: unknown): ResultLimitError {
  return new ResultLimitError(`the message cannot be encoded: ${cause}`, { cause });
}

/** Bytes read from and written to sockets, as they cross them (framed, compressed). */
export interface WireBytes {
  /** Bytes read from the peer. */
  read: number;
  /** Bytes written to the peer. */
  written: number;
}

/** Options of {@linkcode Connection}. */
export interface ConnectionOptions {
  /** The most bytes one inbound message may have. */
  maxMessageSize?: number;
  /** Where the socket's bytes are counted (one object may count many connections). */
  bytes?: WireBytes;
  /**
   * A client's: the IDs of the calls it sends with {@linkcode Connection.sendCall}; answers to
   * them come in as `DecodedAnswer`s where they can (see `Codec.decodeAnswer`).
   */
  callIds?: CallIds;
}

// `stage`, counting the bytes it is given into `bytes.read`.
function counted<O>(stage: Stage<Uint8Array, O>, bytes: WireBytes): Stage<Uint8Array, O> {
  return {
    start: (output) => stage.start?.(output),
    transform(chunk, output) {
      bytes.read += chunk.length;
      return stage.transform(chunk, output);
    },
  };
}

// Frames queued within one turn past this many bytes are written before the turn ends (once a
// turn at most: the next write waits for that one).
const EARLY_WRITE = 8 * 1024;
// The most bytes handed to the socket at once: the end of each write restarts the idle clock, so
// that a big answer to a slow peer that reads is not taken for a peer that stopped reading.
const MAX_WRITE = 4 * 1024 * 1024;

/** A framed, encoded message channel over one socket. */
export class Connection {
  /** Batches of decoded inbound values, in order; errors with a `ProtocolException` on bad input. */
  readonly messages: ReadableStream<MessageBatch>;
  /** `host:port` of the peer. */
  readonly remoteAddress: string;
  /**
   * `Date.now()` when a socket write last started or ended (the idle timeout counts from it; a big
   * write ends every 4 MiB): read per write, not per message.
   */
  lastWrite: number = Date.now();

  readonly #socket: Socket;
  readonly #codec: Codec;
  readonly #joiner = new FrameJoiner();
  readonly #splitter: Splitting;
  // The most bytes one incoming message may have, decompressed.
  #limit: number;
  #length32 = false;
  // Carrying queued frames to the socket, while any are queued (see #carry).
  #carrying?: Promise<void>;
  // The socket write in flight, if any.
  #writing?: Promise<void>;
  #writer?: WritableStreamDefaultWriter<Uint8Array>;
  readonly #bytes?: WireBytes;
  readonly #ids?: CallIds;
  #open = true;
  #aborted = false;
  // Settles once the last compressed message is queued (or failed). Compressing runs
  // concurrently (node:zlib and @napi-rs/lzma on the thread pool) and may finish out of order,
  // but messages are queued in the order they were sent: a CANCEL must not pass its call.
  #compressing: Promise<unknown> = Promise.resolve();

  /** Wraps `socket`, encoding with `codec`. */
  constructor(socket: Socket, codec: Codec, options: ConnectionOptions = {}) {
    this.#socket = socket;
    this.#codec = codec;
    this.remoteAddress = socket.remoteAddress;
    this.#splitter = new Splitting(options);
    this.#limit = options.maxMessageSize ?? codec.maxMessageSize;
    this.#bytes = options.bytes;
    this.#ids = options.callIds;
    const decoding = messageDecoding(codec, () => this.#limit, this.#ids);
    const stage = chain(this.#splitter, decoding);
    this.messages = pullThrough(socket.readable, this.#bytes ? counted(stage, this.#bytes) : stage);
  }

  /** From now on, at most `bytes` bytes in one incoming message, compressed or decompressed. */
  limitMessages(bytes: number): void {
    this.#splitter.limit(bytes);
    this.#limit = bytes;
  }

  /**
   * Whether more answers are queued than the socket has taken, past the high-water mark: a peer
   * that does not read. The owner stops reading the peer until {@linkcode Connection.drained}.
   */
  get backlogged(): boolean {
    return this.#joiner.backlogged;
  }

  /** Resolves once what is queued has been handed to the socket, or the connection closed. */
  drained(): Promise<void> {
    return this.#joiner.drained();
  }

  /** Whether messages can still be sent. */
  get open(): boolean {
    return this.#open;
  }

  /**
   * Sends one message. Fails with `ResultLimitError` if it cannot be encoded or its encoding
   * contains the terminator (nothing is sent), or `RpcUnavailableException` once the connection is closing.
   *
   * Without compression this is synchronous: it throws instead of rejecting, and returns a
   * promise only when too much is queued and the caller should wait. Answers sent this way
   * while a batch of calls is dispatched all leave in one socket write. `onQueued` is told the
   * payload's size, framing not included, once it is queued (flow control counts it).
   */
  send(message: Message, onQueued?: (bytes: number) => void): Promise<void> | undefined {
    const encoded = this.#encode(message);
    if (encoded instanceof Uint8Array) return this.#queue(encoded, onQueued);
    let pushed: Promise<void> | undefined;
    const queued = Promise.all([encoded, this.#compressing]).then(([payload]) => {
      pushed = this.#queue(payload, onQueued);
    });
    this.#compressing = queued.catch(() => {});
    return queued.then(() => pushed);
  }

  /**
   * Sends the answer `{ MPRPC: "0.1", CODE: code, MESSAGE: body }`, as {@linkcode send} does; the
   * envelope's bytes are made once per code, not for every answer.
   */
  sendAnswer(
    code: number,
    body: Message,
    onQueued?: (bytes: number) => void,
  ): Promise<void> | undefined {
    const head = this.#codec.answerHead(code);
    if (!head) return this.send({ MPRPC: VERSION, CODE: code, MESSAGE: body }, onQueued);
    // The head holds no "#", and the body starts with a map's type byte, so a terminator can
    // only lie inside the body: checking it is checking the whole payload.
    return this.#queue(this.#encode(body) as Uint8Array, onQueued, head);
  }

  /**
   * Sends the answer `{ MPRPC: "0.1", CODE: code, MESSAGE: { ID: id, RESULT: result } }` (a
   * result, or a stream's item), as {@linkcode sendAnswer} does; only `result` is encoded (see
   * `Codec.encodeResult`).
   */
  sendResult(
    code: number,
    id: string,
    result: unknown,
    onQueued?: (bytes: number) => void,
  ): Promise<void> | undefined {
    if (!this.#open) throw new RpcUnavailableException("connection is closed");
    let parts;
    try {
      parts = this.#codec.encodeResult(code, id, result);
    } catch (cause) {
      throw unencodable(cause);
    }
    if (!parts) return this.sendAnswer(code, { ID: id, RESULT: result }, onQueued);
    return this.#queueParts(parts, onQueued);
  }

  /**
   * For a stream's items: the bytes before each item's value (see `Codec.itemHead`), or
   * `undefined` when items must go through {@linkcode sendAnswer} (compression, JSON). Fails
   * with `ResultLimitError` if `id` holds the terminator and the connection speaks 0.1.
   */
  itemHead(id: string): Uint8Array | undefined {
    const head = this.#codec.itemHead(id);
    if (head && !this.#length32) assertFramable(head);
    return head;
  }

  /**
   * Sends one stream item, `head` (from {@linkcode itemHead}) followed by the encoding of
   * `value`; otherwise as {@linkcode send}.
   */
  sendItem(
    head: Uint8Array,
    value: unknown,
    onQueued?: (bytes: number) => void,
  ): Promise<void> | undefined {
    // The head ends with the key "RESULT", none of whose bytes is in the terminator: a
    // terminator cannot straddle the two, so checking each is checking the payload.
    return this.#queue(this.#encode(value) as Uint8Array, onQueued, head);
  }

  /**
   * Sends the call `callMessage(call, callIds)`, as {@linkcode send} does; only its `ID`, `ARGS`
   * and the optional fields are encoded for each call (see `Codec.encodeCall`). A connection made
   * without `callIds` sends no calls: `TypeError`.
   */
  sendCall(call: OutgoingCall): Promise<void> | undefined {
    if (!this.#open) throw new RpcUnavailableException("connection is closed");
    const ids = this.#ids;
    if (!ids) throw new TypeError("a connection sends calls only with callIds");
    let parts;
    try {
      parts = this.#codec.encodeCall(call, ids);
    } catch (cause) {
      throw unencodable(cause);
    }
    if (!parts) return this.send(callMessage(call, ids));
    return this.#queueParts(parts);
  }

  // Queues a payload the codec made in two parts (Codec.encodeCall, Codec.encodeResult). The head
  // ends with the key "ARGS" or "RESULT", whose last byte is not in the terminator: a terminator
  // cannot straddle the parts, so checking each is checking the payload.
  #queueParts(
    parts: PayloadParts,
    onQueued?: (bytes: number) => void,
  ): Promise<void> | undefined {
    if (!this.#length32) assertFramable(parts.head);
    return this.#queue(parts.value, onQueued, parts.head);
  }

  // The payload of `value` (see Codec.encode: synchronous without compression). Throws
  // `RpcUnavailableException` once the connection is closing, `ResultLimitError` if `value`
  // cannot be encoded.
  #encode(value: unknown): Uint8Array | Promise<Uint8Array> {
    if (!this.#open) throw new RpcUnavailableException("connection is closed");
    try {
      return this.#codec.encode(value as Message);
    } catch (cause) {
      throw unencodable(cause);
    }
  }

  #queue(
    payload: Uint8Array,
    onQueued?: (bytes: number) => void,
    head?: Uint8Array,
  ): Promise<void> | undefined {
    if (!this.#length32) assertFramable(payload);
    // Not `#open`: a message sent before close() may finish compressing after it, and still goes.
    if (this.#aborted) throw new RpcUnavailableException("connection is closed");
    onQueued?.(payload.length + (head?.length ?? 0));
    const wait = this.#joiner.push(payload, head);
    if (this.#carrying === undefined) this.#carrying = this.#carry();
    else if (this.#writing === undefined && this.#joiner.queued >= EARLY_WRITE) {
      // A burst (calls made in a loop, the answers to a big read): what is queued goes now, and
      // the peer works on it while the rest is made. The carrier takes the rest as usual.
      this.#write(this.#joiner.takeQueued()!).catch(() => {}); // the carrier sees it fail
    }
    return wait;
  }

  // Writes the joiner's frames to the socket until none are queued and no write is in flight,
  // then stops: an idle connection has no write pending (a pipe would keep a read pending for the
  // connection's whole life). It starts a turn after the push that started it, so that the frames
  // pushed in the same turn leave in one write (unless they pass EARLY_WRITE bytes). An early
  // write starts only while it runs, and it waits for each before its own: one write is in flight
  // at a time, and `close` waiting for it waits for them all.
  async #carry(): Promise<void> {
    await undefined;
    try {
      while (true) {
        // Looped: an early write may start in the turn between one write's end and this check.
        while (this.#writing) await this.#writing;
        const chunk = this.#joiner.takeQueued();
        if (chunk === undefined) break;
        await this.#write(chunk);
      }
    } catch {
      // A failed write means the peer is gone: drop what is queued and release anyone waiting
      // to send. The reader sees the same and ends the session.
      this.abort();
    } finally {
      this.#carrying = undefined;
    }
  }

  // Hands `chunk` to the socket; one write at a time (a written buffer is reused: see
  // FrameJoiner.written). The socket's writer is kept: taking it for every write would cost a lone
  // answer more than the write.
  #write(chunk: Uint8Array): Promise<void> {
    this.lastWrite = Date.now();
    const writer = this.#writer ??= this.#socket.writable.getWriter();
    const written = chunk.length > MAX_WRITE ? this.#inSlices(writer, chunk) : writer.write(chunk);
    const writing = written.then(() => {
      // The protocol's idle clock runs from the last write: its end too, for a long one.
      this.lastWrite = Date.now();
      this.#writing = undefined;
      this.#joiner.written(chunk); // not after a failed write: the socket may still hold it
      if (this.#bytes) this.#bytes.written += chunk.length;
    });
    this.#writing = writing;
    return writing;
  }

  // Writes `chunk` MAX_WRITE bytes at a time (the first at once), restarting the idle clock.
  async #inSlices(writer: WritableStreamDefaultWriter<Uint8Array>, chunk: Uint8Array) {
    for (let at = 0; at < chunk.length; at += MAX_WRITE) {
      await writer.write(chunk.subarray(at, at + MAX_WRITE));
      this.lastWrite = Date.now();
    }
  }

  /** Whether a socket write is in flight: the peer has not yet taken all that was handed to it. */
  get writing(): boolean {
    return this.#writing !== undefined;
  }

  /**
   * Switches both directions to length-prefixed frames (the `len32` extension, once both peers
   * agreed on it in the handshake): messages sent from now on, and bytes received from now on.
   * Payloads may then contain the terminator.
   */
  useLength32(): void {
    this.#length32 = true;
    this.#joiner.useLength32();
    this.#splitter.useLength32();
  }

  /**
   * Sends what is queued (messages still compressing included), then closes the socket; nothing
   * more can be sent. With `grace`, a peer that has not taken it all within `grace` ms (one that
   * stopped reading) is cut off: {@linkcode abort}.
   */
  async close(grace?: number): Promise<void> {
    this.#open = false;
    const sent = this.#sendQueued();
    if (grace === undefined) await sent;
    else {
      let stalled: ReturnType<typeof setTimeout> | undefined;
      // Not waiting for `sent` after the cut: a socket need not fail its write when closed.
      const cutOff = new Promise<void>((resolve) => {
        stalled = timer(() => {
          this.abort();
          resolve();
        }, grace);
      });
      await Promise.race([sent, cutOff]).finally(() => clearTimeout(stalled));
    }
    this.#socket.close();
  }

  // What is queued, and what is still compressing, handed to the socket.
  async #sendQueued(): Promise<void> {
    await this.#compressing;
    this.#joiner.close();
    await this.#carrying;
  }

  /** Closes the socket at once, dropping anything queued. */
  abort(): void {
    this.#open = false;
    this.#aborted = true;
    this.#joiner.abort();
    this.#socket.close();
  }
}
