/**
 * Payload compression: `zlib` through the platform's `CompressionStream("deflate")`, `bz2` and
 * `lzma` (.xz) through npm libraries loaded on first use, so that plain connections never pay
 * for them.
 *
 * @module
 */
import { loadBzip2, loadXz } from "../../deps.ts";
import { ProtocolException } from "../protocol/errors.ts";
import type { Compression } from "../protocol/messages.ts";

/** A one-shot compressor for whole payloads. */
export interface Compressor {
  /** Compresses one payload. */
  compress(data: Uint8Array): Promise<Uint8Array>;
  /** Decompresses one payload; output beyond `limit` bytes is a {@linkcode ProtocolException}. */
  decompress(data: Uint8Array, limit: number): Promise<Uint8Array>;
}

async function collect(stream: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) {
      throw new ProtocolException(`decompressed message exceeds the ${limit}-byte limit`);
    }
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

function through(data: Uint8Array, transform: CompressionStream | DecompressionStream) {
  return ReadableStream.from([data as Uint8Array<ArrayBuffer>]).pipeThrough<Uint8Array>(transform);
}

const zlib: Compressor = {
  compress: (data) => collect(through(data, new CompressionStream("deflate")), Infinity),
  decompress: (data, limit) => collect(through(data, new DecompressionStream("deflate")), limit),
};

function checked(data: Uint8Array, limit: number): Uint8Array {
  if (data.length > limit) {
    throw new ProtocolException(`decompressed message exceeds the ${limit}-byte limit`);
  }
  return data;
}

async function bz2(): Promise<Compressor> {
  const { Bzip2 } = (await loadBzip2()).default;
  return {
    compress: (data) => Promise.resolve(data).then((d) => Uint8Array.from(Bzip2.compressFile(d))),
    // compressjs decodes in one go, so the limit can only be checked afterwards.
    decompress: (data, limit) =>
      Promise.resolve(data).then((d) => checked(Uint8Array.from(Bzip2.decompressFile(d)), limit)),
  };
}

async function lzma(): Promise<Compressor> {
  const { xz } = await loadXz();
  const bytes = (b: Uint8Array) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return {
    compress: async (data) => bytes(await xz.compress(data)),
    // Decodes in one go (no streaming decoder before 1.5), so the limit is checked afterwards.
    decompress: async (data, limit) => checked(bytes(await xz.decompress(data)), limit),
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
