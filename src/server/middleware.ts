/**
 * Server middleware: functions that run around every call the server serves, system methods
 * included, in the order they were added (see `Server.use`).
 *
 * @module
 */
import type { CallContext } from "../call/call_context.ts";
import type { PeerCertificate } from "../platform/transport.ts";
import type { CallRequest } from "./dispatcher.ts";

/**
 * What a middleware sees of the call it runs around: the call's context (`id`, `method`, `peer`,
 * `user`, `certificate`, `signal`, `deadline`) and its arguments, which it may replace before
 * calling `next()` to change what the method is given.
 */
export interface MiddlewareContext extends CallContext {
  /** The positional arguments the method will be given. */
  args: unknown[];
  /** The named arguments the method will be given. */
  kwargs: Record<string, unknown>;
}

/**
 * A function around every call: `next()` runs the rest of the chain and then the method, and
 * resolves to its result (for a stream, the `AsyncIterable` of its items, as soon as it opens);
 * what the middleware returns (or resolves to) is the call's result. Throwing refuses the call: an
 * `MprpcError` subclass answers with its code (`RestrictAccessError`: 403), any other error with
 * 404. The method is looked up and its arguments bound inside the innermost `next()`, so a
 * middleware sees calls to unknown methods too, and can refuse them before anything is disclosed.
 */
export type Middleware = (ctx: MiddlewareContext, next: () => Promise<unknown>) => unknown;

/** The context one call's middleware share: arguments of its own, the rest read from the call. */
export class MiddlewareCall implements MiddlewareContext {
  /** The positional arguments the method will be given. */
  args: unknown[];
  /** The named arguments the method will be given. */
  kwargs: Record<string, unknown>;
  readonly #context: CallContext;

  /** The context for `request`, served as `context` describes. */
  constructor(request: CallRequest, context: CallContext) {
    this.args = request.args;
    this.kwargs = request.kwargs;
    this.#context = context;
  }

  /** The call's `ID`. */
  get id(): string {
    return this.#context.id;
  }

  /** The method name as called. */
  get method(): string {
    return this.#context.method;
  }

  /** `host:port` of the client. */
  get peer(): string {
    return this.#context.peer;
  }

  /** The user the client authenticated as. */
  get user(): string | null {
    return this.#context.user;
  }

  /** The client's certificate, on a TLS server that asks for one. */
  get certificate(): PeerCertificate | undefined {
    return this.#context.certificate;
  }

  /** Aborts when the call's outcome is no longer wanted. */
  get signal(): AbortSignal {
    return this.#context.signal;
  }

  /** When the call must be over, in ms since the epoch, if the client set a deadline. */
  get deadline(): number | undefined {
    return this.#context.deadline;
  }
}
