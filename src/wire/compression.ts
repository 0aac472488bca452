/**
 * Payload compression: `zlib` through the platform's `CompressionStream("deflate")`, `bz2` and
 * `lzma` (.xz) through npm libraries loaded on first use, so that plain connections never pay
 * for them.
 *
 * Every decoder is bounded while it runs: it stops, with a {@linkcode ProtocolException}, as soon
 * as its output passes the limit (the connection's `maxMessageSize`), so a small payload that
 * inflates to gigabytes (a "decompression bomb") costs no more than the limit plus the decoder's
 * working memory.
 *
 * @module
 */
import { loadBzip2, loadXz, loadXzDecoder } from "../../deps.ts";
import { ProtocolException } from "../protocol/errors.ts";
import type { Compression } from "../protocol/messages.ts";

/** A one-shot compressor for whole payloads. */
export interface Compressor {
  /** Compresses one payload. */
  compress(data: Uint8Array): Promise<Uint8Array>;
  /**
   * Decompresses one payload. Output beyond `limit` bytes is a {@linkcode ProtocolException},
   * raised as soon as the decoder produces it: the rest is never decoded.
   */
  decompress(data: Uint8Array, limit: number): Promise<Uint8Array>;
}

/** A payload that decompresses past the size limit: final, never a message cut short. */
export class DecompressedTooLarge extends ProtocolException {}

function tooLarge(limit: number): ProtocolException {
  return new DecompressedTooLarge(`decompressed message exceeds the ${limit}-byte limit`);
}

/** Reads `stream` to the end into one buffer; more than `limit` bytes cancels it and throws. */
async function collect(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop early (the throw) cancels the stream, which stops its decoder.
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * The compressed input, in slices a decoder takes one at a time. Deno's `DecompressionStream`
 * inflates each chunk it is given whole, before the reader sees any of it, so an unsliced
 * 400-KB deflate bomb would become 400 MB at once; a 4-KiB slice inflates to 4 MiB at most
 * (deflate expands 1032:1 at most).
 */
const SLICE = 4096;

function slices(data: Uint8Array): ReadableStream<Uint8Array<ArrayBuffer>> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= data.length) return controller.close();
      controller.enqueue(data.slice(at, at += SLICE));
    },
  }, { highWaterMark: 0 });
}

const zlib: Compressor = {
  compress: (data) =>
    collect(
      ReadableStream.from([data as Uint8Array<ArrayBuffer>]).pipeThrough<Uint8Array>(
        new CompressionStream("deflate"),
      ),
      Infinity,
    ),
  decompress: (data, limit) =>
    collect(slices(data).pipeThrough<Uint8Array>(new DecompressionStream("deflate")), limit),
};

/**
 * The output stream compressjs's bzip2 decoder writes to, byte by byte: chunks that add up to
 * `limit` bytes at most, and a throw on the next byte, which aborts the decoding there. (Chunks,
 * not one buffer that doubles, so that reaching the limit costs the limit, not twice or thrice.)
 */
class BoundedOutput {
  static readonly FIRST_CHUNK = 64 * 1024;
  static readonly MAX_CHUNK = 1024 * 1024;
  readonly #limit: number;
  readonly #full: Uint8Array[] = [];
  #chunk: Uint8Array;
  #at = 0;
  /** The bytes in `#full`. */
  #size = 0;

  constructor(limit: number) {
    this.#limit = limit;
    this.#chunk = new Uint8Array(Math.min(BoundedOutput.FIRST_CHUNK, limit));
  }

  writeByte(byte: number): void {
    if (this.#at === this.#chunk.length) this.#next();
    this.#chunk[this.#at++] = byte;
  }

  /** What was written, in one buffer of its own size. */
  bytes(): Uint8Array {
    const last = this.#chunk.subarray(0, this.#at);
    if (this.#full.length === 0) return last.length === this.#chunk.length ? last : last.slice();
    const out = new Uint8Array(this.#size + last.length);
    let at = 0;
    for (const chunk of [...this.#full, last]) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  #next(): void {
    this.#size += this.#chunk.length;
    if (this.#size >= this.#limit) throw tooLarge(this.#limit);
    this.#full.push(this.#chunk);
    const length = Math.min(this.#chunk.length * 2, BoundedOutput.MAX_CHUNK);
    this.#chunk = new Uint8Array(Math.min(length, this.#limit - this.#size));
    this.#at = 0;
  }
}

async function bz2(): Promise<Compressor> {
  const { Bzip2 } = (await loadBzip2()).default;
  return {
    compress: (data) => Promise.resolve(data).then((d) => Uint8Array.from(Bzip2.compressFile(d))),
    // The decoder writes to the output stream it is given as it decodes each block, so the
    // bounded one stops it at the limit; its own working memory is one block (3.6 MB at most).
    decompress: (data, limit) =>
      Promise.resolve(data).then((d) => {
        const output = new BoundedOutput(limit);
        Bzip2.decompressFile(d, output);
        return output.bytes();
      }),
  };
}

async function lzma(): Promise<Compressor> {
  const [{ xz }, decoder] = await Promise.all([loadXz(), loadXzDecoder()]);
  // A CommonJS module: Deno and Node expose its exports as the default export only.
  const { XzReadableStream } = ("default" in decoder ? decoder.default : decoder) as typeof decoder;
  const bytes = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return {
    compress: async (data) => bytes(await xz.compress(data)),
    // xz-embedded (WebAssembly) decodes 64 KiB of output per read, one stream at a time (the
    // package queues the others). Its memory is the dictionary the stream's header asks for (8 MiB
    // with Python's default preset; more than 64 MiB is refused), resident only as far as the
    // output has filled it.
    decompress: (data, limit) =>
      collect(new XzReadableStream(ReadableStream.from([data as Uint8Array<ArrayBuffer>])), limit),
  };
}

const loaders: Record<Compression, () => Promise<Compressor>> = {
  zlib: () => Promise.resolve(zlib),
  bz2,
  lzma,
};

/** The compressor for `name`; throws a `TypeError` for a name MPRPC does not know. */
export function loadCompressor(name: Compression): Promise<Compressor> {
  const load = loaders[name];
  if (!load) throw new TypeError(`unknown compression '${name}' (use zlib, bz2 or lzma)`);
  return load();
}
