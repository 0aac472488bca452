/**
 * The seam between a connection and what a call does. A session decodes and checks a call, then
 * hands it to a {@linkcode Dispatcher}, which answers with a value, a stream, or an error; the
 * session alone speaks the wire. Middleware, cancellation and the broker plug in here, without
 * touching the session.
 *
 * @module
 */
import { type Answer, isAsyncIterable } from "../call/answer.ts";
import { type CallContext, runInCall, runInCallSync } from "../call/call_context.ts";
import { checkMiddleware, runAround } from "../call/middleware.ts";
import { NotFindError, RequestError, UnsupportSysMethodError } from "../protocol/errors.ts";
import { type Method, type Registry, SYSTEM_PREFIX } from "./registry.ts";
import type { ResultStore } from "./result_store.ts";
import { bindArguments, type Parameter } from "./signature.ts";
import { type Middleware, MiddlewareCall } from "./middleware.ts";

/** A call as the session decoded it. */
export interface CallRequest {
  /** The call's `ID`. */
  readonly id: string;
  /** The method name. */
  readonly method: string;
  /** Positional arguments. */
  readonly args: unknown[];
  /** Named arguments. */
  readonly kwargs: Record<string, unknown>;
}

/**
 * What the session does with a call's answer: send it, or keep it for `system.getresult`. One
 * function for every call, given the call back: no closure per call.
 */
export type Respond<C> = (call: C, answer: Answer | Promise<Answer>) => void;

/** Runs calls. */
export interface Dispatcher {
  /**
   * Runs `call` as `context` describes it and hands its answer to `respond`. The answer is given directly when it is ready at once (most calls: no
   * promise on the hot path), else as a promise; a failure, an `MprpcError` for a protocol status
   * code, comes as a rejected promise, never as a throw.
   *
   * `respond` runs as part of the call: for a handler that goes on asynchronously, inside its
   * context, so that whatever `respond` starts (reading a stream's items) belongs to the call.
   */
  dispatch<C extends CallRequest>(call: C, context: CallContext, respond: Respond<C>): void;
}

/** The name under which stored `RETURN: false` outcomes are fetched. */
export const GETRESULT = "system.getresult";
/** The parameters of {@linkcode GETRESULT}. */
export const GETRESULT_PARAMS: Parameter[] = [
  { name: "id", text: "id", optional: false, rest: false },
];

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}

function toAnswer(result: unknown): Answer {
  return isAsyncIterable(result) ? { stream: result } : { value: result ?? null };
}

// What a method returned, back from its answer (a stored outcome, for middleware).
function resultOf(answer: Answer): unknown {
  return "value" in answer ? answer.value : answer.stream;
}

// The answer of running `method`; a synchronous throw becomes a rejection.
function answerOf(method: Method, args: unknown[]): Answer | Promise<Answer> {
  let result: unknown;
  try {
    result = method.run(args);
  } catch (err) {
    return Promise.reject(err);
  }
  return isThenable(result) ? Promise.resolve(result).then(toAnswer) : toAnswer(result);
}

/**
 * The server's dispatcher: looks the method up in the registry, binds the arguments to its
 * parameters, and runs it as serving the call (see `callContext()`); `system.getresult` takes a
 * stored outcome. Middleware runs around every call.
 */
export class MethodDispatcher implements Dispatcher {
  readonly #registry: Registry;
  readonly #results: ResultStore;
  // Replaced, never changed in place: a call runs the chain it started with.
  #middleware: readonly Middleware[] = [];

  /** Dispatches to the methods of `registry`, and `system.getresult` to `results`. */
  constructor(registry: Registry, results: ResultStore) {
    this.#registry = registry;
    this.#results = results;
  }

  /** Adds `middleware` around the calls dispatched from now on, inside those added before. */
  use(middleware: Middleware): void {
    checkMiddleware(middleware);
    this.#middleware = [...this.#middleware, middleware];
  }

  /** Runs `call`; see {@linkcode Dispatcher.dispatch}. */
  dispatch<C extends CallRequest>(call: C, context: CallContext, respond: Respond<C>): void {
    if (this.#middleware.length > 0) {
      return runInCall(context, () => respond(call, this.#around(call, context)));
    }
    let method: Method;
    let args: unknown[];
    try {
      if (call.method === GETRESULT) return respond(call, this.#getResult(call));
      method = this.#method(call.method);
      args = bindArguments(method.parameters, call.args, call.kwargs);
    } catch (err) {
      return respond(call, Promise.reject(err));
    }
    // One frame for the whole call, the reading of its stream included: entering a frame per
    // item would cost as much as the item itself.
    if (method.async) return runInCall(context, () => respond(call, answerOf(method, args)));
    return respond(call, runInCallSync(context, answerOf, method, args));
  }

  // The call through the middleware: always asynchronous, unlike the bare path.
  #around(call: CallRequest, context: CallContext): Promise<Answer> {
    const ctx = new MiddlewareCall(call, context);
    return runAround(this.#middleware, ctx, this.#run).then(toAnswer);
  }

  // The innermost step of the middleware chain: the method, given the context's arguments.
  readonly #run = (ctx: MiddlewareCall): unknown => {
    if (ctx.method === GETRESULT) return this.#getResult(ctx).then(resultOf);
    const method = this.#method(ctx.method);
    return method.run(bindArguments(method.parameters, ctx.args, ctx.kwargs));
  };

  #method(name: string): Method {
    const method = this.#registry.get(name);
    if (method) return method;
    if (name.startsWith(SYSTEM_PREFIX)) {
      throw new UnsupportSysMethodError(`unsupported system method '${name}'`);
    }
    throw new NotFindError(`no method named '${name}'`);
  }

  #getResult(call: Pick<CallRequest, "args" | "kwargs">): Promise<Answer> {
    const [id] = bindArguments(GETRESULT_PARAMS, call.args, call.kwargs);
    const stored = this.#results.take(String(id));
    if (!stored) throw new RequestError(`no result for ID ${id} (unknown, or already taken)`);
    return stored;
  }
}
