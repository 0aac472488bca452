/**
 * The MPRPC 0.1 wire vocabulary: version string, terminator, status codes and message shapes.
 * Everything here mirrors `PROTOCOL.md`; nothing here does I/O.
 *
 * @module
 */

/** The protocol version every message carries in its `MPRPC` field. */
export const VERSION = "0.1";

/** The 11 bytes `##PRO-END##` that end every message on the wire. */
export const TERMINATOR: Uint8Array = new TextEncoder().encode("##PRO-END##");

/** Status codes, named after PROTOCOL.md's table. */
export const Code = {
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
  METHOD: string;
  ARGS: unknown[];
  KWARGS: Record<string, unknown>;
  FRAME?: string;
}

/** The `100` reply a server sends after a successful handshake. */
export interface HandshakeReply {
  MPRPC: string;
  CODE: 100;
  VERSION: string | null;
  DESC: string | null;
  DEBUG: boolean;
  COMPRESER: Compression | null;
  TIMEOUT: number | null;
}

/** Whether `value` is a plain map (what msgpack and JSON decode a message to). */
export function isMap(value: unknown): value is Message {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array);
}
