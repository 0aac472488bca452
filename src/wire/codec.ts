/**
 * The codec: payloads <-> messages. MessagePack normally, UTF-8 JSON in debug mode, optionally
 * compressed. Inbound it is the {@linkcode MessageDecoder} stream stage; outbound the connection
 * calls {@linkcode Codec.encode} itself, so that a message that cannot be sent fails only its call.
 *
 * Inbound, it also knows where a payload ends without decoding it ({@linkcode MsgpackScanner},
 * {@linkcode JsonScanner}, and the ends of compressed streams): what reading a payload that holds
 * the terminator needs (see `terminator.ts`).
 *
 * @module
 */
import { Decoder, Encoder } from "../../deps.ts";
import { type Compressor, loadCompressor } from "./compression.ts";
import { ProtocolException } from "../protocol/errors.ts";
import { DEFAULT_MAX_MESSAGE_SIZE, isTerminated } from "./frame_splitter.ts";
import {
  type Attempt,
  CutFrameJoiner,
  CutFrameReader,
  type Decoded,
  INVALID,
  type MessageScanner,
  NEED_MORE,
} from "./terminator.ts";
import type { Stage } from "./pull_through.ts";
import { Code, type Compression, type Message, VERSION } from "../protocol/messages.ts";
import type { TraceCarrier } from "../protocol/call_message.ts";
import type { CallIds } from "./call_ids.ts";
import { CallEnvelopeReader, oneByteValue } from "./call_envelope.ts";

const STREAM_ITEM = Code.STREAM_ITEM;

/** A call that waits for its answer (`RETURN: true`), as {@linkcode Codec.encodeCall} sends it. */
export interface OutgoingCall {
  /** The call's number: `ID` is its ID in the connection's {@linkcode CallIds}. */
  key: number;
  /** `METHOD`. */
  method: string;
  /** `ARGS`. */
  args: unknown[];
  /** `KWARGS`: sent only if it has keys. */
  kwargs: Record<string, unknown>;
  /** `DEADLINE` (the `deadline` extension), if any. */
  deadline?: number;
  /** `CREDIT` (the `credit` extension), if any. */
  credit?: number;
  /** `TRACE` (the `trace` extension), if any. */
  trace?: TraceCarrier;
}

/**
 * The message of `call`: `{ MPRPC, ID, METHOD, RETURN: true, KWARGS?, DEADLINE?, CREDIT?, TRACE?,
 * ARGS }`, in that order (a map's order means nothing to a peer; `ARGS`, often the big part,
 * last), `KWARGS` only if it has keys.
 */
export function callMessage(call: OutgoingCall, ids: CallIds): Message {
  const message: Message = {
    MPRPC: VERSION,
    ID: ids.id(call.key),
    METHOD: call.method,
    RETURN: true,
  };
  if (hasKeys(call.kwargs)) message.KWARGS = call.kwargs;
  if (call.deadline !== undefined) message.DEADLINE = call.deadline;
  if (call.credit !== undefined) message.CREDIT = call.credit;
  if (call.trace !== undefined) message.TRACE = call.trace;
  message.ARGS = call.args;
  return message;
}

// Whether `object` has an own enumerable key (`Object.keys(object).length > 0`, with no array).
function hasKeys(object: Record<string, unknown>): boolean {
  for (const key in object) if (Object.hasOwn(object, key)) return true;
  return false;
}

/**
 * A payload as {@linkcode Codec.encodeCall} and {@linkcode Codec.encodeResult} make it: `head`,
 * then `value`. Views of the codec's own buffers, in an object it reuses, valid until its next
 * encode: send or copy them first.
 */
export interface PayloadParts {
  /**
   * The bytes up to the value of the last field (`ARGS` of a call, `RESULT` of an answer):
   * everything else, and that field's key.
   */
  head: Uint8Array;
  /** The value of the last field. */
  value: Uint8Array;
}

// The encoding of `message` up to its first nil (0xc0): none of its keys holds that byte.
function upToNil(message: Message): Uint8Array {
  const bytes = new Encoder().encode(message);
  return bytes.subarray(0, bytes.indexOf(0xc0));
}

/**
 * An answer to one of a client connection's calls, as {@linkcode Codec.decodeAnswer} reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Codec, DecodedAnswer } from "./codec.ts";
 * import { CallIds } from "./call_ids.ts";
 * const codec = await Codec.create();
 * const ids = new CallIds("7f3a.");
 * const answer = { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: "7f3a.42", RESULT: [3] } };
 * const read = codec.decodeAnswer(codec.encode(answer) as Uint8Array, ids);
 * assert.ok(read instanceof DecodedAnswer);
 * assert.deepEqual([read.code, read.key, read.result], [200, 42, [3]]);
 * const other = { ...answer, MESSAGE: { ID: "someone-else", RESULT: [3] } };
 * assert.equal(codec.decodeAnswer(codec.encode(other) as Uint8Array, ids), undefined);
 * ```
 */
export class DecodedAnswer {
  /** `CODE`, `RESULT`, and `key`, the number of the call `ID` names (see {@linkcode CallIds}). */
  constructor(readonly code: number, readonly key: number, readonly result: unknown) {}
}

const NO_BYTES = new Uint8Array(0);
// What an answer's bytes are, around its code, ID and result (see Codec.decodeAnswer).
const ANSWER_START = upToNil({ MPRPC: VERSION, CODE: null, MESSAGE: null });
const ANSWER_ID = upToNil({ MESSAGE: { ID: null, RESULT: null } }).subarray(1);
const ANSWER_RESULT = upToNil({ RESULT: null }).subarray(1);

// An answer's MESSAGE up to the text of its ID (see Codec.encodeResult).
const RESULT_BODY = upToNil({ ID: null, RESULT: null });

// The byte that is the whole MessagePack encoding of `value` (a fixint, nil, a boolean), or -1.
function oneByteEncoding(value: unknown): number {
  if (value === null) return 0xc0;
  if (typeof value === "boolean") return value ? 0xc3 : 0xc2;
  if (typeof value === "number" && Number.isInteger(value) && value >= -32 && value < 128) {
    return value & 0xff;
  }
  return -1;
}

// The most method names whose bytes a codec keeps (see Codec.encodeCall); past it, it starts over.
const METHODS_KEPT = 256;

/** Options of {@linkcode Codec}: what both peers agreed on in the handshake. */
export interface CodecOptions {
  /** JSON instead of MessagePack. Default `false`. */
  debug?: boolean;
  /** Compress every payload. Default `null` (none). */
  compression?: Compression | null;
  /** The most bytes a decompressed payload may have. */
  maxMessageSize?: number;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes messages to payloads and decodes payloads to values. One instance per connection
 * direction pair; its MessagePack encoder and decoder are reused for every message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Codec } from "./codec.ts";
 * const codec = await Codec.create({ debug: true });
 * const payload = await codec.encode({ MPRPC: "0.1", HEARTBEAT: "ping" });
 * assert.equal(new TextDecoder().decode(payload), '{"MPRPC":"0.1","HEARTBEAT":"ping"}');
 * ```
 */
export class Codec {
  readonly #debug: boolean;
  readonly #compression: Compression | null;
  readonly #compressor?: Compressor;
  readonly #limit: number;
  readonly #encoder = new Encoder({ ignoreUndefined: true });
  readonly #decoder = new Decoder();
  readonly #heads = new Map<number, Uint8Array>();
  // For encodeCall: the envelope's start by field count, each method's bytes, the key KWARGS,
  // and the buffer a call is assembled in.
  readonly #callStarts = new Map<number, Uint8Array>();
  readonly #methods = new Map<string, Uint8Array>();
  #kwargsKey?: Uint8Array;
  #argsKey?: Uint8Array;
  #parts = new Uint8Array(256);
  readonly #call: PayloadParts = { head: NO_BYTES, value: NO_BYTES };
  readonly #result: PayloadParts = { head: NO_BYTES, value: NO_BYTES };
  readonly #calls = new CallEnvelopeReader((payload) => this.#deserialize(payload));

  private constructor(options: CodecOptions, compressor?: Compressor) {
    this.#debug = options.debug ?? false;
    this.#compression = options.compression ?? null;
    this.#compressor = compressor;
    this.#limit = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Creates a codec, loading the compression library it needs. */
  static async create(options: CodecOptions = {}): Promise<Codec> {
    const compressor = options.compression ? await loadCompressor(options.compression) : undefined;
    return new Codec(options, compressor);
  }

  /**
   * The encoding of `{ MPRPC: "0.1", CODE: code, MESSAGE: … }` up to the value of `MESSAGE`, or
   * `undefined` when this codec compresses or speaks JSON. An answer is then that head followed
   * by `encode(MESSAGE)`: the same bytes as encoding the whole message, without rebuilding the
   * outer map for every answer. Made once per code.
   */
  answerHead(code: number): Uint8Array | undefined {
    if (this.#debug || this.#compressor) return undefined;
    let head = this.#heads.get(code);
    if (!head) {
      this.#heads.set(
        code,
        head = this.#upToLastNil({ MPRPC: VERSION, CODE: code, MESSAGE: null }),
      );
    }
    return head;
  }

  /**
   * The encoding of the stream item `{ MPRPC: "0.1", CODE: 202, MESSAGE: { ID: id, RESULT: … } }`
   * up to the value of `RESULT`, or `undefined` when this codec compresses or speaks JSON: made
   * once per stream, so that each item encodes only its value.
   */
  itemHead(id: string): Uint8Array | undefined {
    if (this.#debug || this.#compressor) return undefined;
    return this.#upToLastNil({
      MPRPC: VERSION,
      CODE: STREAM_ITEM,
      MESSAGE: { ID: id, RESULT: null },
    });
  }

  // The encoding of `message`, whose last value is nil (the last byte, 0xc0), without that byte:
  // what comes before the value that will take its place. A copy, to keep.
  #upToLastNil(message: Message): Uint8Array {
    const whole = this.#encoder.encode(message);
    return whole.subarray(0, whole.length - 1);
  }

  /**
   * The payload of `callMessage(call)` in two parts, or `undefined` when this codec compresses
   * or speaks JSON. The envelope and the keys are made once, each method's bytes once (up to
   * {@linkcode METHODS_KEPT} names); only `ID`, the optional fields and `ARGS` are encoded for
   * each call. `head` then `args` are the bytes of encoding the whole message; `args` is never
   * copied here.
   */
  encodeCall(call: OutgoingCall, ids: CallIds): PayloadParts | undefined {
    if (this.#debug || this.#compressor) return undefined;
    const { kwargs, deadline, credit, trace } = call;
    const withKwargs = hasKeys(kwargs);
    const optional = (withKwargs ? 1 : 0) + (deadline !== undefined ? 1 : 0) +
      (credit !== undefined ? 1 : 0) + (trace !== undefined ? 1 : 0);
    const encoder = this.#encoder;
    let at = this.#put(this.#callStart(5 + optional), 0);
    this.#room(at, ids.maxBytes);
    at = ids.write(call.key, this.#parts, at);
    at = this.#put(this.#methodBytes(call.method), at);
    if (withKwargs) {
      at = this.#put(this.#kwargsKey ??= this.#field({ KWARGS: null }, 1), at);
      at = this.#put(encoder.encodeSharedRef(kwargs), at);
    }
    // `{ DEADLINE: n }` without its map header is the field as the whole message has it.
    if (deadline !== undefined) at = this.#put(this.#field({ DEADLINE: deadline }, 0), at);
    if (credit !== undefined) at = this.#put(this.#field({ CREDIT: credit }, 0), at);
    if (trace !== undefined) at = this.#put(this.#field({ TRACE: trace }, 0), at);
    at = this.#put(this.#argsKey ??= this.#field({ ARGS: null }, 1), at);
    return this.#parted(this.#call, at, encoder.encodeSharedRef(call.args));
  }

  /**
   * The answer `{ MPRPC: "0.1", CODE: code, MESSAGE: { ID: id, RESULT: result } }` in two parts,
   * or `undefined` when this codec compresses or speaks JSON, `id` is not ASCII of at most 255
   * characters, or `result` is `undefined`. The envelope is made once per code, `ID` is written
   * byte by byte, and only `result` is encoded, unless it is one byte (a small integer, nil, a
   * boolean: written too).
   */
  encodeResult(code: number, id: string, result: unknown): PayloadParts | undefined {
    const head = this.answerHead(code);
    // (An undefined result is left out of the whole message's encoding: `encode` says how.)
    if (!head || id.length > 255 || result === undefined) return undefined;
    let at = this.#put(head, 0);
    this.#room(at, RESULT_BODY.length + 2 + id.length + ANSWER_RESULT.length + 1);
    const bytes = this.#parts;
    bytes.set(RESULT_BODY, at);
    at += RESULT_BODY.length;
    if (id.length < 32) bytes[at++] = 0xa0 | id.length;
    else bytes[at++] = 0xd9, bytes[at++] = id.length;
    for (let i = 0; i < id.length; i++) {
      const char = id.charCodeAt(i);
      if (char >= 0x80) return undefined;
      bytes[at++] = char;
    }
    bytes.set(ANSWER_RESULT, at);
    at += ANSWER_RESULT.length;
    const byte = oneByteEncoding(result);
    if (byte === -1) return this.#parted(this.#result, at, this.#encoder.encodeSharedRef(result));
    bytes[at++] = byte;
    return this.#parted(this.#result, at, NO_BYTES);
  }

  // `parts` with `value` after the first `at` bytes of the parts buffer. Payloads in a row mostly
  // have heads of one length: the view is made again only when it changes.
  #parted(parts: PayloadParts, at: number, value: Uint8Array): PayloadParts {
    if (parts.head.buffer !== this.#parts.buffer || parts.head.length !== at) {
      parts.head = this.#parts.subarray(0, at);
    }
    parts.value = value;
    return parts;
  }

  /**
   * The answer in `payload` if it is `{ MPRPC: "0.1", CODE: c, MESSAGE: { ID: id, RESULT: r } }`,
   * keys in that order (as mprpc and pymprpc send results and stream items), `id` one of `ids`;
   * otherwise `undefined`, and `decode` reads it. Only `RESULT` is decoded: the envelope is
   * matched byte by byte, making no maps and no strings (measured: 0.14 us an answer, against 0.5
   * for decoding it whole). A `RESULT` that does not decode throws what `decode` would.
   */
  decodeAnswer(payload: Uint8Array, ids: CallIds): DecodedAnswer | undefined {
    if (this.#debug || this.#compressor || !startsWith(payload, ANSWER_START)) return undefined;
    let at = ANSWER_START.length;
    let code = payload[at++];
    if (code === 0xcc) code = payload[at++];
    else if (code === 0xcd) code = payload[at++] * 256 + payload[at++];
    else if (!(code < 0x80)) return undefined;
    if (!startsWith(payload, ANSWER_ID, at)) return undefined;
    at += ANSWER_ID.length;
    let length = payload[at++];
    if (length === 0xd9) length = payload[at++];
    else if (length >= 0xa0 && length < 0xc0) length &= 0x1f;
    else return undefined;
    const end = at + length;
    if (end > payload.length) return undefined;
    const key = ids.read(payload, at, end);
    if (key < 0 || !startsWith(payload, ANSWER_RESULT, end)) return undefined;
    return new DecodedAnswer(code, key, this.#valueAt(payload, end + ANSWER_RESULT.length));
  }

  /**
   * The call message in `payload` when {@linkcode CallEnvelopeReader} reads it, else `undefined`
   * (then `decode` it): what a server's connection tries first. `undefined` when this codec
   * compresses or speaks JSON.
   */
  decodeCall(payload: Uint8Array): Message | undefined {
    // A payload the decoder weighs first is weighed whole: its fields, decoded one by one, would
    // each be weighed alone, or not at all.
    if (this.#debug || this.#compressor || payload.length > WEIGH_ABOVE) return undefined;
    return this.#calls.read(payload);
  }

  // The value that fills `payload` from `at` on. A one-byte value (a small integer, nil, a
  // boolean: what many calls answer) is read here, with no view and no decoder. Past the envelope
  // the payload decodes as its last value does: what fails here fails the same in `decode`.
  #valueAt(payload: Uint8Array, at: number): unknown {
    const value = at === payload.length - 1 ? oneByteValue(payload[at]) : undefined;
    return value !== undefined ? value : this.#deserialize(payload.subarray(at));
  }

  // The encoding of the map `field` (a few keys: a one-byte header) without its header and its
  // last `drop` bytes; a view of the encoder's buffer unless `drop` (then a copy, to keep).
  #field(field: Message, drop: number): Uint8Array {
    const bytes = this.#encoder.encodeSharedRef(field);
    return drop ? bytes.slice(1, bytes.length - drop) : bytes.subarray(1);
  }

  // A call's bytes up to the value of ID, for a call message of `fields` fields.
  #callStart(fields: number): Uint8Array {
    let start = this.#callStarts.get(fields);
    if (!start) {
      // The message with nil for every value (0xc0): its start is the same for any values.
      const keys = [
        "MPRPC",
        "ID",
        "METHOD",
        "RETURN",
        "KWARGS",
        "DEADLINE",
        "CREDIT",
        "TRACE",
        "ARGS",
      ];
      const nils = Object.fromEntries(keys.slice(0, fields).map((key) => [key, null]));
      const whole = this.#encoder.encode({ ...nils, MPRPC: VERSION });
      const upToId = this.#encoder.encode({ MPRPC: VERSION, ID: null }).length - 1;
      this.#callStarts.set(fields, start = whole.subarray(0, upToId));
    }
    return start;
  }

  // `"METHOD" method "RETURN" true`, the bytes after a call's ID.
  #methodBytes(method: string): Uint8Array {
    let bytes = this.#methods.get(method);
    if (!bytes) {
      bytes = this.#field({ METHOD: method, RETURN: true }, 0).slice();
      if (this.#methods.size >= METHODS_KEPT) this.#methods.clear();
      this.#methods.set(method, bytes);
    }
    return bytes;
  }

  // Copies `bytes` into the call buffer at `at`, growing it; where they end.
  #put(bytes: Uint8Array, at: number): number {
    this.#room(at, bytes.length);
    this.#parts.set(bytes, at);
    return at + bytes.length;
  }

  // Grows the call buffer, keeping its first `at` bytes, to have room for `n` more.
  #room(at: number, n: number): void {
    if (at + n <= this.#parts.length) return;
    const grown = new Uint8Array(Math.max(at + n, 2 * this.#parts.length));
    grown.set(this.#parts.subarray(0, at));
    this.#parts = grown;
  }

  /** Whether encoding and decoding are synchronous (no compression). */
  get synchronous(): boolean {
    return this.#compressor === undefined;
  }

  /**
   * The payload for `message`. Synchronous unless compression is on; then it is a view of the
   * codec's own buffer, valid until its next `encode` (no copy per message): send or copy it first.
   */
  encode(message: Message): Uint8Array | Promise<Uint8Array> {
    if (!this.#compressor) return this.#serialize(message, true);
    // A copy: the compressor may read it after other messages are encoded.
    return this.#compressor.compress(this.#serialize(message, false));
  }

  /**
   * The value in `payload`; an undecodable payload is a {@linkcode ProtocolException}, and so is
   * one that decompresses past `limit` bytes (default `maxMessageSize`).
   */
  decode(payload: Uint8Array, limit: number = this.#limit): unknown | Promise<unknown> {
    if (!this.#compressor) return this.#deserialize(payload);
    return this.#compressor.decompress(payload, limit).then(
      (plain) => this.#deserialize(plain),
      (cause) => {
        if (cause instanceof ProtocolException) throw cause;
        throw new ProtocolException("payload could not be decompressed", { cause });
      },
    );
  }

  /** The most bytes one message may have (decompressed, if compressed). */
  get maxMessageSize(): number {
    return this.#limit;
  }

  /** A fresh scanner of this codec's uncompressed payloads: where a MessagePack or JSON value ends. */
  scanner(): MessageScanner {
    return this.#debug ? new JsonScanner() : new MsgpackScanner();
  }

  /**
   * A cheap test for compressed payloads: `false` if `payload` cannot be a whole stream, because
   * it does not end the way one does (`bz2`, `lzma`); always `true` for `zlib`, whose end shows
   * only once decompressed.
   */
  mayEnd(payload: Uint8Array): boolean {
    if (this.#compression === "bz2") return bzip2Ends(payload);
    if (this.#compression === "lzma") return xzEnds(payload);
    return true;
  }

  /**
   * Decodes a compressed payload, or says whether it failed because it was cut short: the
   * compressed stream ends early (for `bz2` and `lzma`, told by how its bytes end; for `zlib`, by
   * the decompressor, or by what it decompressed being a message cut short). Rejects only with
   * the decompressor's own `ProtocolException`: more than `maxMessageSize` bytes decompressed.
   */
  async attempt(payload: Uint8Array, limit: number = this.#limit): Promise<Attempt> {
    let plain: Uint8Array;
    try {
      plain = await this.#compressor!.decompress(payload, limit);
    } catch (cause) {
      if (cause instanceof ProtocolException && !said(cause, "truncated", true)) throw cause;
      return { cut: this.#cutStream(payload, cause) };
    }
    try {
      return { value: this.#deserialize(plain) };
    } catch {
      return { cut: this.#compression === "zlib" && this.#cutPlain(plain) };
    }
  }

  // Whether a payload that failed to decompress is a compressed stream cut short.
  #cutStream(payload: Uint8Array, cause: unknown): boolean {
    // A decompressor may say so itself; zlib (node:zlib, and Node's DecompressionStream) does.
    if (said(cause, "truncated", true) || said(cause, "code", "Z_BUF_ERROR")) return true;
    if (this.#compression === "bz2") return startsWith(payload, BZIP2) && !bzip2Ends(payload);
    if (this.#compression === "lzma") return startsWith(payload, XZ) && !xzEnds(payload);
    return false;
  }

  // Whether an undecodable (decompressed) payload is the start of a message: a zlib decompressor
  // that does not mind a stream cut short (Deno's `DecompressionStream`) gives what it has.
  #cutPlain(plain: Uint8Array): boolean {
    return this.scanner().scan(plain, plain.length) === NEED_MORE;
  }

  #serialize(message: Message, shared: boolean): Uint8Array {
    if (this.#debug) return textEncoder.encode(JSON.stringify(message));
    return shared ? this.#encoder.encodeSharedRef(message) : this.#encoder.encode(message);
  }

  #deserialize(payload: Uint8Array): unknown {
    // MessagePack grows when decoded, up to 64-fold for a payload of empty maps: a big payload is
    // weighed first, so that one message cannot decode past the heap and end the process.
    if (!this.#debug && payload.length > WEIGH_ABOVE) {
      const weight = decodedWeight(payload);
      if (weight > DECODE_BUDGET * this.#limit) {
        throw new ProtocolException(
          `payload would decode to about ${weight} bytes, over ${DECODE_BUDGET} times the ${this.#limit}-byte limit`,
        );
      }
    }
    try {
      return this.#debug ? JSON.parse(textDecoder.decode(payload)) : this.#decoder.decode(payload);
    } catch (cause) {
      const format = this.#debug ? "JSON" : "MessagePack";
      throw new ProtocolException(`payload is not valid ${format}`, { cause });
    }
  }
}

/** Decoded messages, in order, with the size of each on the wire (its payload's bytes). */
export interface MessageBatch {
  /** The decoded values. */
  messages: unknown[];
  /** `sizes[i]` is the payload size of `messages[i]`: what flow control counts. */
  sizes: number[];
}

const sizeOf = (payload: Uint8Array) => payload.length;

/**
 * The inbound codec stage: batches of payloads in (as {@linkcode FrameSplitter} emits them),
 * batches of decoded values out, in order. A payload that does not decode errors the stream
 * with a {@linkcode ProtocolException}, unless the batch was split on terminators and the payload
 * is a message cut short by a terminator inside it: then it is joined with the payloads after it
 * (see {@linkcode CutFrameReader} and {@linkcode CutFrameJoiner}). Batches of `len32` frames, or
 * from anywhere else, are decoded payload by payload.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Codec, MessageDecoder } from "./codec.ts";
 * const codec = await Codec.create();
 * const payload = await codec.encode({ MPRPC: "0.1" });
 * const batches = ReadableStream.from([[payload]]).pipeThrough(new MessageDecoder(codec));
 * for await (const batch of batches) {
 *   assert.deepEqual(batch, { messages: [{ MPRPC: "0.1" }], sizes: [payload.length] });
 * }
 * ```
 */
export class MessageDecoder extends TransformStream<Uint8Array[], MessageBatch> {
  /**
   * Creates the stage around a codec. `limit()`, if given, is the most bytes a compressed message
   * may decompress to now (a connection allows less before its login); default the codec's
   * `maxMessageSize`.
   */
  constructor(codec: Codec, limit: () => number = () => codec.maxMessageSize) {
    const decoding = messageDecoding(codec, limit);
    super({ transform: (batch, controller) => decoding.transform(batch, controller) });
  }
}

/**
 * The logic of {@linkcode MessageDecoder}, as a {@linkcode Stage}: what a connection links into
 * its pipeline with {@linkcode pullThrough}. Arguments as for {@linkcode MessageDecoder}, and
 * `ids`, a client connection's call IDs: answers to its calls then come as
 * {@linkcode DecodedAnswer}s where {@linkcode Codec.decodeAnswer} can read them.
 */
export function messageDecoding(
  codec: Codec,
  limit: () => number = () => codec.maxMessageSize,
  ids?: CallIds,
): Stage<Uint8Array[], MessageBatch> {
  return codec.synchronous ? synchronousDecoder(codec, ids) : asynchronousDecoder(codec, limit);
}

type Decoding = Stage<Uint8Array[], MessageBatch>;

// With `ids` (a client's connection), answers to its calls are read as DecodedAnswers when they
// can be; without (a server's), calls are read by Codec.decodeCall when they can be.
function synchronousDecoder(codec: Codec, ids?: CallIds): Decoding {
  const decode = ids
    ? (payload: Uint8Array) => codec.decodeAnswer(payload, ids) ?? codec.decode(payload)
    : (payload: Uint8Array) => codec.decodeCall(payload) ?? codec.decode(payload);
  const scanner = () => codec.scanner();
  const cut = new CutFrameReader({ decode, scanner, maxMessageSize: codec.maxMessageSize });
  return {
    transform(batch, controller) {
      if (cut.idle) {
        try {
          controller.enqueue({ messages: batch.map(decode), sizes: batch.map(sizeOf) });
          return;
        } catch (error) {
          if (!isTerminated(batch)) throw error;
        }
      } else if (!isTerminated(batch)) {
        cut.finish();
      }
      // A payload did not decode, or an earlier one was cut short: payload by payload.
      const out: Decoded = { messages: [], sizes: [] };
      for (const payload of batch) cut.read(payload, out);
      if (out.messages.length > 0) controller.enqueue(out);
    },
  };
}

function asynchronousDecoder(codec: Codec, limit: () => number): Decoding {
  const decode = (payload: Uint8Array) => codec.decode(payload, limit()) as Promise<unknown>;
  const cut = new CutFrameJoiner({
    decode,
    attempt: (payload) => codec.attempt(payload, limit()),
    mayEnd: (payload) => codec.mayEnd(payload),
    maxMessageSize: codec.maxMessageSize,
  });
  return {
    async transform(batch, controller) {
      const terminated = isTerminated(batch);
      if (!terminated) cut.finish();
      const out: Decoded = { messages: [], sizes: [] };
      let i = 0;
      if (cut.idle) {
        try {
          for (; i < batch.length; i++) {
            out.messages.push(await decode(batch[i]));
            out.sizes.push(batch[i].length);
          }
        } catch (error) {
          if (!terminated) throw error;
        }
      }
      // A payload did not decode, or an earlier one was cut short: on from there, one by one.
      for (; i < batch.length; i++) await cut.read(batch[i], out);
      if (out.messages.length > 0) controller.enqueue(out);
    },
  };
}

// ------------------------------------------------------------------ where a payload ends

/**
 * Where a MessagePack value ends: reads type bytes and lengths, skips contents. It holds the
 * number of items still to read at each open array or map (a map's are its keys and values).
 */
export class MsgpackScanner implements MessageScanner {
  #at = 0;
  #open: number[] = [1];

  /** See {@linkcode MessageScanner.scan}. */
  scan(bytes: Uint8Array, length: number): number {
    const open = this.#open;
    let at = this.#at;
    while (open.length > 0 && at < length) {
      const type = bytes[at];
      let size = 1; // the item's bytes, header included (for an array or map, the header's)
      let items = 0; // the items of an array or map
      if (type < 0x80 || type >= 0xe0) {
        // positive or negative fixint
      } else if (type < 0x90) {
        items = 2 * (type & 0x0f);
      } else if (type < 0xa0) {
        items = type & 0x0f;
      } else if (type < 0xc0) {
        size = 1 + (type & 0x1f);
      } else {
        const spec = LAYOUT[type - 0xc0];
        if (spec === undefined) return INVALID;
        const [kind, n] = spec;
        if (kind === FIXED) {
          size = n;
        } else {
          if (at + 1 + n > length) break;
          const count = readLength(bytes, at + 1, n);
          if (kind === DATA) {
            size = 1 + n + count;
          } else if (kind === EXT) {
            size = 2 + n + count;
          } else {
            size = 1 + n;
            items = kind === MAP ? 2 * count : count;
          }
        }
      }
      if (at + size > length) break;
      at += size;
      // The item is read (an array or map: begun). If it was its container's last, the container
      // ends when it does: its place is given up at once (so `[[[…]]]` costs no memory).
      if (--open[open.length - 1] === 0) open.pop();
      if (items > 0) open.push(items);
    }
    this.#at = at;
    return open.length === 0 ? at : NEED_MORE;
  }
}

const FIXED = 0; // the whole item is `n` bytes
const DATA = 1; // str, bin: an `n`-byte length, then that many bytes
const EXT = 2; // ext: an `n`-byte length, a type byte, then that many bytes
const ARRAY = 3; // an `n`-byte count of items
const MAP = 4; // an `n`-byte count of pairs

// Types 0xc0 to 0xdf: how long each is. 0xc1 is never used.
const LAYOUT: ([number, number] | undefined)[] = [
  [FIXED, 1], // c0 nil
  undefined, // c1
  [FIXED, 1], // c2 false
  [FIXED, 1], // c3 true
  [DATA, 1], // c4 bin 8
  [DATA, 2], // c5 bin 16
  [DATA, 4], // c6 bin 32
  [EXT, 1], // c7 ext 8
  [EXT, 2], // c8 ext 16
  [EXT, 4], // c9 ext 32
  [FIXED, 5], // ca float 32
  [FIXED, 9], // cb float 64
  [FIXED, 2], // cc uint 8
  [FIXED, 3], // cd uint 16
  [FIXED, 5], // ce uint 32
  [FIXED, 9], // cf uint 64
  [FIXED, 2], // d0 int 8
  [FIXED, 3], // d1 int 16
  [FIXED, 5], // d2 int 32
  [FIXED, 9], // d3 int 64
  [FIXED, 3], // d4 fixext 1
  [FIXED, 4], // d5 fixext 2
  [FIXED, 6], // d6 fixext 4
  [FIXED, 10], // d7 fixext 8
  [FIXED, 18], // d8 fixext 16
  [DATA, 1], // d9 str 8
  [DATA, 2], // da str 16
  [DATA, 4], // db str 32
  [ARRAY, 2], // dc array 16
  [ARRAY, 4], // dd array 32
  [MAP, 2], // de map 16
  [MAP, 4], // df map 32
];

// Payloads above this are weighed before decoding: smaller ones cannot grow dangerously.
const WEIGH_ABOVE = 1024 * 1024;
// How many times `maxMessageSize` a message may take once decoded.
const DECODE_BUDGET = 24;
// What one decoded item costs, roughly, in V8: a container (object or array) and a scalar.
const CONTAINER_COST = 64;
const SCALAR_COST = 16;

/**
 * Roughly what `payload` (MessagePack) takes once decoded, in bytes: every container and scalar
 * at its typical V8 cost, plus the bytes of strings and binaries. One pass over the headers; the
 * contents are skipped. A payload that is not MessagePack weighs what was read of it.
 */
export function decodedWeight(payload: Uint8Array): number {
  let weight = 0;
  for (let at = 0; at < payload.length;) {
    const type = payload[at];
    let size = 1;
    let container = false;
    if (type >= 0x80 && type < 0xa0) {
      container = true; // fixmap, fixarray
    } else if (type >= 0xa0 && type < 0xc0) {
      size = 1 + (type & 0x1f); // fixstr
    } else if (type >= 0xc0 && type < 0xe0) {
      const spec = LAYOUT[type - 0xc0];
      if (spec === undefined || at + 1 + spec[1] > payload.length) return weight;
      const [kind, n] = spec;
      if (kind === FIXED) size = n;
      else if (kind === DATA) size = 1 + n + readLength(payload, at + 1, n);
      else if (kind === EXT) size = 2 + n + readLength(payload, at + 1, n);
      else (size = 1 + n), (container = true);
    }
    weight += container ? CONTAINER_COST : SCALAR_COST + size;
    at += size;
  }
  return weight;
}

function readLength(bytes: Uint8Array, at: number, n: number): number {
  let value = 0;
  for (let k = 0; k < n; k++) value = value * 256 + bytes[at + k];
  return value;
}

// JsonScanner's states: what the next byte may be.
const VALUE = 0; // a value
const VALUE_OR_CLOSE = 1; // a value or `]` (just after `[`)
const KEY_OR_CLOSE = 2; // a key or `}` (just after `{`)
const KEY = 3; // a key (after `,` in an object)
const COLON = 4;
const AFTER = 5; // `,` or the close of the array or object the last value is in
const STRING = 6; // inside a string
const ESCAPE = 7; // after a backslash in a string
const HEX = 8; // in the 4 hex digits of a `\u` escape
const NUMBER = 9;
const LITERAL = 10; // in `true`, `false` or `null`
const DONE = 11; // after the whole value: whitespace, or the end

// Number states: what was read last.
const MINUS = 0;
const ZERO = 1; // a leading 0
const INT = 2;
const DOT = 3;
const FRACTION = 4;
const E = 5;
const E_SIGN = 6;
const EXPONENT = 7;
// The number states a number may end in.
const NUMBER_ENDS = [false, true, true, false, true, false, false, true];

const LITERALS: Record<number, Uint8Array> = {
  0x74: textEncoder.encode("true"),
  0x66: textEncoder.encode("false"),
  0x6e: textEncoder.encode("null"),
};
// The bytes that may follow a backslash, `u` aside: " \ / b f n r t
const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/**
 * Where a JSON value ends, checking its grammar as it goes (not its UTF-8), so that bytes that
 * cannot continue a JSON text are {@linkcode INVALID} at once: in JSON, `##PRO-END##` can only be
 * inside a string. The value's end includes whitespace after it.
 */
export class JsonScanner implements MessageScanner {
  #at = 0;
  #state = VALUE;
  #objects: boolean[] = []; // the open arrays (false) and objects (true), outermost first
  #key = false; // the string being read is an object key
  #step = 0; // the number state, the hex digits left, or the literal's bytes read
  #literal = LITERALS[0x74];

  /** See {@linkcode MessageScanner.scan}. */
  scan(bytes: Uint8Array, length: number): number {
    const objects = this.#objects;
    let state = this.#state;
    let at = this.#at;
    for (; at < length; at++) {
      const c = bytes[at];
      if (state === STRING) {
        if (c === 0x22) state = this.#key ? COLON : this.#valueEnd();
        else if (c === 0x5c) state = ESCAPE;
        else if (c < 0x20) return INVALID;
        continue;
      }
      if (state === ESCAPE) {
        if (c === 0x75) {
          state = HEX;
          this.#step = 4;
        } else if (ESCAPES.has(c)) {
          state = STRING;
        } else {
          return INVALID;
        }
        continue;
      }
      if (state === HEX) {
        if (!isHex(c)) return INVALID;
        if (--this.#step === 0) state = STRING;
        continue;
      }
      if (state === LITERAL) {
        if (c !== this.#literal[this.#step]) return INVALID;
        if (++this.#step === this.#literal.length) state = this.#valueEnd();
        continue;
      }
      if (state === NUMBER) {
        const next = numberStep(this.#step, c);
        if (next !== -1) {
          this.#step = next;
          continue;
        }
        if (!NUMBER_ENDS[this.#step]) return INVALID;
        state = this.#valueEnd(); // and this byte is read in that state
      }
      if (isSpace(c)) continue;
      if (state === DONE) break;
      if (state === COLON) {
        if (c !== 0x3a) return INVALID;
        state = VALUE;
      } else if (state === KEY_OR_CLOSE || state === KEY) {
        if (c === 0x22) {
          state = STRING;
          this.#key = true;
        } else if (c === 0x7d && state === KEY_OR_CLOSE) {
          objects.pop();
          state = this.#valueEnd();
        } else {
          return INVALID;
        }
      } else if (state === AFTER) {
        const object = objects[objects.length - 1];
        if (c === 0x2c) {
          state = object ? KEY : VALUE;
        } else if (c === (object ? 0x7d : 0x5d)) {
          objects.pop();
          state = this.#valueEnd();
        } else {
          return INVALID;
        }
      } else if (c === 0x5d && state === VALUE_OR_CLOSE) {
        objects.pop();
        state = this.#valueEnd();
      } else {
        state = this.#valueStart(c);
        if (state === -1) return INVALID;
      }
    }
    this.#at = at;
    this.#state = state;
    // A whole value at the end of the bytes given may still be followed by whitespace, but it is
    // whole: its end is known.
    return state === DONE ? at : NEED_MORE;
  }

  // The state after the first byte of a value, or -1 if no value starts with `c`.
  #valueStart(c: number): number {
    if (c === 0x7b) return this.#objects.push(true), KEY_OR_CLOSE;
    if (c === 0x5b) return this.#objects.push(false), VALUE_OR_CLOSE;
    if (c === 0x22) return (this.#key = false), STRING;
    if (c === 0x2d) return (this.#step = MINUS), NUMBER;
    if (isDigit(c)) return (this.#step = c === 0x30 ? ZERO : INT), NUMBER;
    const literal = LITERALS[c];
    if (literal === undefined) return -1;
    this.#literal = literal;
    this.#step = 1;
    return LITERAL;
  }

  // The state after a value: its container's `AFTER`, or `DONE` at the top.
  #valueEnd(): number {
    return this.#objects.length === 0 ? DONE : AFTER;
  }
}

// The number state after byte `c`, or -1 if `c` does not continue the number.
function numberStep(state: number, c: number): number {
  const digit = isDigit(c);
  switch (state) {
    case MINUS:
      return c === 0x30 ? ZERO : digit ? INT : -1;
    case ZERO:
    case INT:
      if (digit) return state === INT ? INT : -1;
      return c === 0x2e ? DOT : c === 0x65 || c === 0x45 ? E : -1;
    case DOT:
    case FRACTION:
      if (digit) return FRACTION;
      return state === FRACTION && (c === 0x65 || c === 0x45) ? E : -1;
    case E:
      return c === 0x2b || c === 0x2d ? E_SIGN : digit ? EXPONENT : -1;
    default: // E_SIGN, EXPONENT
      return digit ? EXPONENT : -1;
  }
}

// ------------------------------------------------------------------ where a compressed stream ends

const BZIP2 = textEncoder.encode("BZh");
const XZ = new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

// Whether `bytes` hold `prefix` at `at`.
function startsWith(bytes: Uint8Array, prefix: Uint8Array, at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

function said(error: unknown, key: string, value: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Object && depth < 4; depth++) {
    if ((e as Record<string, unknown>)[key] === value) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

const BZIP2_END = 0x177245385090n; // the 48 bits that end a bzip2 stream

/**
 * Whether `bytes` end as a bzip2 stream does: the 48-bit end-of-stream marker, the 32-bit CRC,
 * then zero to seven zero bits to the byte boundary.
 */
export function bzip2Ends(bytes: Uint8Array): boolean {
  if (bytes.length < 14 || !startsWith(bytes, BZIP2)) return false;
  let tail = 0n;
  for (let i = bytes.length - 11; i < bytes.length; i++) tail = (tail << 8n) | BigInt(bytes[i]);
  for (let pad = 0n; pad < 8n; pad++) {
    if ((tail & ((1n << pad) - 1n)) !== 0n) return false;
    if (((tail >> (pad + 32n)) & 0xffffffffffffn) === BZIP2_END) return true;
  }
  return false;
}

/**
 * Whether `bytes` end as an .xz stream does: a 12-byte footer ending in `YZ` whose stream flags are
 * the header's, then optional stream padding (zero bytes in fours).
 */
export function xzEnds(bytes: Uint8Array): boolean {
  let end = bytes.length;
  while (
    end >= 28 && bytes[end - 1] === 0 && bytes[end - 2] === 0 && bytes[end - 3] === 0 &&
    bytes[end - 4] === 0
  ) end -= 4;
  if (end < 24 || !startsWith(bytes, XZ)) return false;
  return bytes[end - 2] === 0x59 && bytes[end - 1] === 0x5a && bytes[end - 4] === bytes[6] &&
    bytes[end - 3] === bytes[7];
}
