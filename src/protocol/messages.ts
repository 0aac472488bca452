/**
 * The MPRPC 0.1 wire vocabulary: version string, terminator, status codes and message shapes.
 * Everything here mirrors docs/protocol.md; nothing here does I/O.
 *
 * @module
 */

/** The protocol version every message carries in its `MPRPC` field. */
export const VERSION = "0.1";

/** The 11 bytes `##PRO-END##` that end every message on the wire. */
export const TERMINATOR: Uint8Array = new TextEncoder().encode("##PRO-END##");

/** Status codes, named after the table in docs/protocol.md. */
export const Code = {
  BROKER_URL: 50,
  BROKER_REFUSED: 51,
  BROKER_NO_SERVER: 52,
  HANDSHAKE: 100,
  PONG: 101,
  RESULT: 200,
  STREAM_OPEN: 201,
  STREAM_ITEM: 202,
  STREAM_END: 206,
  EXPIRE_WARNING: 300,
  EXPIRE_STREAM_WARNING: 301,
  REQUEST_ERROR: 400,
  NOT_FOUND: 401,
  PARAM_ERROR: 402,
  RESTRICT_ACCESS: 403,
  RUNTIME_ERROR: 404,
  RESULT_LIMIT: 405,
  UNSUPPORTED_SYS_METHOD: 406,
  SERVER_ERROR: 500,
  LOGIN_ERROR: 501,
  REQUIREMENT: 502,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  PROTOCOL: 505,
  PROTOCOL_SYNTAX: 506,
} as const;

/** Compression algorithms a server may announce in `COMPRESER`. */
export type Compression = "zlib" | "bz2" | "lzma";

/** Any decoded MPRPC message: a map with string keys. */
export type Message = Record<string, unknown>;

/** The `DATA` part of a call error. */
export interface ErrorData {
  /** The method that was called. */
  METHOD: string;
  /** Its positional arguments. */
  ARGS: unknown[];
  /** Its named arguments. */
  KWARGS: Record<string, unknown>;
  /** The stack trace; sent only in debug mode. */
  FRAME?: string;
}

/** The `100` reply a server sends after a successful handshake. */
export interface HandshakeReply {
  /** The protocol version, `"0.1"`. */
  MPRPC: string;
  /** Always 100. */
  CODE: 100;
  /** The service's version. */
  VERSION: string | null;
  /** The service's description. */
  DESC: string | null;
  /** Whether messages are JSON (debug mode). */
  DEBUG: boolean;
  /** The compression in use. */
  COMPRESER: Compression | null;
  /** The idle timeout in seconds; 0 or `null` for none. */
  TIMEOUT: number | null;
  /** The extensions the server accepted (only if the client asked for some). */
  EXT?: string[];
}

/** The extensions this implementation supports (see docs/extensions.md). */
export const EXTENSIONS: readonly string[] = ["len32", "cancel", "deadline", "credit", "trace"];

/**
 * The extension a client offers to say "serve me yourself": a broker answers an `AUTH` that
 * offers it with a `100` handshake (for its `system.*` and `broker.*` methods), and any other
 * `AUTH` with the server to use (`50`). Servers ignore it. See docs/extensions.md.
 */
export const DIRECT = "direct";

/** Whether `value` is a plain map (what msgpack and JSON decode a message to). */
export function isMap(value: unknown): value is Message {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}
