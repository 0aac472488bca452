/**
 * Messages between the worker pool and its workers, and the helpers both sides share.
 *
 * @module
 */

import { errorClassName } from "../protocol/errors.ts";
import type { PeerCertificate } from "../platform/transport.ts";

/** The call a pool function serves, as it crosses threads: `CallContext` without its signal. */
export interface WorkerCallContext {
  /** The call's `ID`, as the client chose it. */
  id: string;
  /** The method name as called. */
  method: string;
  /** `host:port` of the client. */
  peer: string;
  /** The user name the client authenticated with, or `null`. */
  user: string | null;
  /** The client's certificate, on a TLS server that asks for one. */
  certificate?: PeerCertificate;
}

/**
 * Pool → worker. A call carries its context when it has one; "cancel" aborts the signal of a
 * running call (its client went away, or its stream's reader stopped).
 */
export type ToWorker =
  | { type: "load"; urls: string[] }
  | {
    type: "call";
    id: number;
    url: string;
    name: string;
    args: unknown[];
    context?: WorkerCallContext;
  }
  | { type: "cancel"; id: number }
  | { type: "credit"; id: number; items: number };

/**
 * How many items of a stream a worker sends ahead of the pool's reader: past it, the worker waits
 * for a "credit" message, which the pool sends each time its reader has taken half of them.
 */
export const STREAM_WINDOW = 64;

/** An exported function a worker found. */
export interface WorkerExport {
  /** The module's URL. */
  url: string;
  /** The export's name. */
  name: string;
  /** The function's source text, for its parameters. */
  source: string;
}

/** An error as it crosses threads. */
export interface ErrorDescription {
  /** The error's class name. */
  name: string;
  /** Its message. */
  message: string;
  /** Its stack trace. */
  stack?: string;
  /** Its MPRPC status code, if it was an `MprpcError`. */
  code?: number;
}

/** Worker → pool. */
export type FromWorker =
  | { type: "ready"; exports: WorkerExport[] }
  | { type: "load-error"; error: ErrorDescription }
  | { type: "value"; id: number; value: unknown }
  | { type: "stream"; id: number }
  | { type: "item"; id: number; value: unknown }
  | { type: "end"; id: number }
  | { type: "error"; id: number; error: ErrorDescription }
  | { type: "closing" };

/** Describes `err` so that the other side can rebuild it. */
export function describeError(err: unknown): ErrorDescription {
  if (!(err instanceof Error)) return { name: errorClassName(err), message: String(err) };
  const code = (err as { code?: unknown }).code;
  return {
    name: errorClassName(err),
    message: err.message,
    stack: err.stack,
    code: typeof code === "number" ? code : undefined,
  };
}

/**
 * `value` ready to post with its binary parts moved, not cloned: each `Uint8Array` (at the top,
 * or in an array or plain object up to two levels down) is copied here, in the sending thread,
 * and the copy's buffer is transferred. The receiver then gets it without a copy on its own
 * thread, and the sender's buffers stay intact. `transfer` collects the buffers to move.
 */
export function detachBinary(value: unknown, transfer: ArrayBuffer[], depth = 0): unknown {
  if (value instanceof Uint8Array) {
    const copy = value.slice();
    transfer.push(copy.buffer);
    return copy;
  }
  if (depth >= 2 || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => detachBinary(item, transfer, depth + 1));
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, detachBinary(item, transfer, depth + 1)]),
  );
}
