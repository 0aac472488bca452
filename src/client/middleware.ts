/**
 * Client middleware: functions that run around every call an `AsyncRPC` makes (see
 * `AsyncRPC.use`).
 *
 * @module
 */
import type { CallOptions } from "./client_session.ts";
import type { SyncCallOptions } from "./sync_client.ts";

/**
 * What a client middleware sees of an outgoing call; it may replace the arguments and the call's
 * options (add a timeout, a signal) before calling `next()`. `O`: the client's call options.
 */
export interface ClientMiddlewareContext<O = CallOptions> {
  /** The method called. */
  readonly method: string;
  /** The positional arguments sent. */
  args: unknown[];
  /** The named arguments sent. */
  kwargs: Record<string, unknown>;
  /** The call's options (its own copy). */
  options: O;
}

/**
 * A function around every outgoing call: `next()` sends the call (through the middleware added
 * after this one) and resolves to its result (for a stream, the `AsyncIterable` of its items, as
 * soon as it opens), or rejects with its error; what the middleware returns is the call's result.
 * Throwing fails the call without sending it.
 */
export type ClientMiddleware = (
  ctx: ClientMiddlewareContext,
  next: () => Promise<unknown>,
) => unknown;

/** What a middleware of the synchronous client sees of an outgoing call (its options: a timeout). */
export type SyncClientMiddlewareContext = ClientMiddlewareContext<SyncCallOptions>;

/**
 * A function around every call of the synchronous client `RPC`, run on the caller's thread:
 * `next()` makes the call, blocking, and returns its result (a sync iterable for a stream) or
 * throws its error; what the middleware returns is the call's result.
 */
export type SyncClientMiddleware = (
  ctx: SyncClientMiddlewareContext,
  next: () => unknown,
) => unknown;
