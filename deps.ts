// deno-lint-ignore-file no-import-prefix -- mod.ts must import from a URL without an import map
/**
 * Every third-party module the library uses, pinned by `npm:` specifier so that importing
 * `mod.ts` from a URL needs no import map.
 *
 * @module
 */
export { Decoder, Encoder } from "npm:@msgpack/msgpack@^3.1.3";

/** The JavaScript parser that reads handlers' parameters and JSDoc (see src/server/source_info.ts). */
export { parse, tokenizer } from "npm:acorn@^8.19.0";
export type {
  Comment,
  Expression,
  Function as FunctionNode,
  Options,
  Pattern,
  Program,
  Token,
} from "npm:acorn@^8.19.0";

/**
 * bzip2, loaded only when a connection asks for `bz2` (pure JavaScript). Its decoder writes to an
 * output stream as it goes, which lets src/wire/compression.ts stop it at `maxMessageSize`.
 */
export const loadBzip2 = () => import("npm:@ledgerhq/compressjs@^1.3.2");

/**
 * The xz (.xz container) compressor, loaded only when a connection asks for `lzma` (native via
 * Node-API; its decoder decodes whole, so decoding uses {@linkcode loadXzDecoder}). Held at 1.4:
 * 1.5's native binaries need Node 22, and the npm build supports Node 20.
 */
export const loadXz = () => import("npm:@napi-rs/lzma@~1.4.5");

/**
 * The xz decoder, loaded with {@linkcode loadXz}: xz-embedded compiled to WebAssembly, as a
 * `ReadableStream` that decodes 64 KiB at a time, so decoding stops at `maxMessageSize`.
 */
export const loadXzDecoder = () => import("npm:xz-decompress@^0.2.3");

/**
 * The OpenTelemetry API: a no-op until the application registers an SDK. Used only with the
 * `tracing` option (see src/call/tracing.ts).
 */
export {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "npm:@opentelemetry/api@^1.9.0";
export type { Context, Span, Tracer } from "npm:@opentelemetry/api@^1.9.0";
