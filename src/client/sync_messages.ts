/**
 * Requests from the synchronous client to its worker, and the replies it blocks for.
 *
 * @module
 */
import type { ClientOptions } from "./async_rpc.ts";
import type { ErrorData } from "../protocol/messages.ts";

/** Caller → worker (by `postMessage`). */
export type SyncRequest =
  | { op: "connect"; url: string; options: ClientOptions; channel: SharedArrayBuffer }
  | { op: "call"; method: string; args: unknown[]; kwargs: Record<string, unknown> }
  | { op: "delay"; method: string; args: unknown[]; kwargs: Record<string, unknown> }
  | { op: "next"; stream: number }
  | { op: "return"; stream: number }
  | { op: "reconnect" }
  | { op: "close" };

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
  };
