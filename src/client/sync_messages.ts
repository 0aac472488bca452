/**
 * Requests from the synchronous client to its worker, and the replies it blocks for.
 *
 * @module
 */
import type { ClientOptions } from "./client_session.ts";
import type { ErrorData } from "../protocol/messages.ts";

/** An operation the caller blocks on until the worker answers it. */
export type SyncOperation =
  | { op: "connect"; url: string; options: ClientOptions; channel: SharedArrayBuffer }
  | {
    op: "call";
    method: string;
    args: unknown[];
    kwargs: Record<string, unknown>;
    timeout?: number;
  }
  | { op: "delay"; method: string; args: unknown[]; kwargs: Record<string, unknown> }
  | { op: "next"; stream: number }
  | { op: "reconnect" }
  | { op: "close" };

/**
 * Caller → worker (by `postMessage`): an operation numbered by `seq`, which the worker puts on
 * every piece of its reply so that the caller can drop a reply it no longer waits for; or the
 * release of a stream the caller left early, which gets no reply.
 */
export type SyncRequest =
  | SyncOperation & { seq: number }
  | { op: "return"; stream: number };

/** Worker → caller (through the shared channel, MessagePack-encoded). */
export type SyncReply =
  | { ok: true; value: unknown }
  | {
    ok: false;
    code: number;
    message: string;
    id?: string;
    exception?: string;
    data?: ErrorData;
    /** The connection broke with the call in flight (`ConnectionLostError`). */
    lost?: boolean;
  };
