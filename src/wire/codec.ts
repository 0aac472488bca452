/**
 * The codec: payloads <-> messages. MessagePack normally, UTF-8 JSON in debug mode, optionally
 * compressed. Inbound it is the {@linkcode MessageDecoder} stream stage; outbound the connection
 * calls {@linkcode Codec.encode} itself, so that a message that cannot be sent fails only its call.
 *
 * @module
 */
import { Decoder, Encoder } from "../../deps.ts";
import { type Compressor, loadCompressor } from "./compression.ts";
import { ProtocolException } from "../protocol/errors.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "./frame_splitter.ts";
import type { Compression, Message } from "../protocol/messages.ts";

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
  readonly #compressor?: Compressor;
  readonly #limit: number;
  readonly #encoder = new Encoder({ ignoreUndefined: true });
  readonly #decoder = new Decoder();

  private constructor(options: CodecOptions, compressor?: Compressor) {
    this.#debug = options.debug ?? false;
    this.#compressor = compressor;
    this.#limit = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  }

  /** Creates a codec, loading the compression library it needs. */
  static async create(options: CodecOptions = {}): Promise<Codec> {
    const compressor = options.compression ? await loadCompressor(options.compression) : undefined;
    return new Codec(options, compressor);
  }

  /** Whether encoding and decoding are synchronous (no compression). */
  get synchronous(): boolean {
    return this.#compressor === undefined;
  }

  /** The payload for `message`. Synchronous unless compression is on. */
  encode(message: Message): Uint8Array | Promise<Uint8Array> {
    const payload = this.#serialize(message);
    return this.#compressor ? this.#compressor.compress(payload) : payload;
  }

  /** The value in `payload`; an undecodable payload is a {@linkcode ProtocolException}. */
  decode(payload: Uint8Array): unknown | Promise<unknown> {
    if (!this.#compressor) return this.#deserialize(payload);
    return this.#compressor.decompress(payload, this.#limit).then(
      (plain) => this.#deserialize(plain),
      (cause) => {
        if (cause instanceof ProtocolException) throw cause;
        throw new ProtocolException("payload could not be decompressed", { cause });
      },
    );
  }

  #serialize(message: Message): Uint8Array {
    return this.#debug
      ? textEncoder.encode(JSON.stringify(message))
      : this.#encoder.encode(message);
  }

  #deserialize(payload: Uint8Array): unknown {
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
 * with a {@linkcode ProtocolException}.
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
  /** Creates the stage around a codec. */
  constructor(codec: Codec) {
    super({
      transform: codec.synchronous
        ? (batch, controller) =>
          controller.enqueue({
            messages: batch.map((payload) => codec.decode(payload)),
            sizes: batch.map(sizeOf),
          })
        : async (batch, controller) => {
          const messages: unknown[] = [];
          for (const payload of batch) messages.push(await codec.decode(payload));
          controller.enqueue({ messages, sizes: batch.map(sizeOf) });
        },
    });
  }
}
