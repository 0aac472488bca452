/**
 * The seam between a connection and what a call does. A session decodes and checks a call, then
 * hands it to a {@linkcode Dispatcher}, which answers with a value, a stream, or an error; the
 * session alone speaks the wire. Middleware, cancellation and the broker plug in here, without
 * touching the session.
 *
 * @module
 */
import { type CallContext, iterateInCall, runInCall } from "../call/call_context.ts";
import { NotFindError, RequestError, UnsupportSysMethodError } from "../protocol/errors.ts";
import { type Registry, SYSTEM_PREFIX } from "./registry.ts";
import type { ResultStore } from "./result_store.ts";
import { bindArguments, type Parameter } from "./signature.ts";

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

/** What a call produced: one value, or a stream of items. */
export type Answer = { value: unknown } | { stream: AsyncIterable<unknown> };

/** Runs calls. */
export interface Dispatcher {
  /**
   * Runs `call` as `context` describes it. Returns the answer directly when it is ready at
   * once (most calls: no promise on the hot path), else a promise of it; throws or rejects with
   * the call's error, an `MprpcError` for a protocol status code.
   */
  dispatch(call: CallRequest, context: CallContext): Answer | Promise<Answer>;
}

/** The name under which stored `RETURN: false` outcomes are fetched. */
export const GETRESULT = "system.getresult";
const GETRESULT_PARAMS: Parameter[] = [{ name: "id", text: "id", optional: false, rest: false }];

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}

function toAnswer(result: unknown, context: CallContext): Answer {
  return isAsyncIterable(result)
    ? { stream: iterateInCall(context, result) }
    : { value: result ?? null };
}

/**
 * The server's dispatcher: looks the method up in the registry, binds the arguments to its
 * parameters, and runs it inside the call's context; `system.getresult` takes a stored outcome.
 */
export class MethodDispatcher implements Dispatcher {
  readonly #registry: Registry;
  readonly #results: ResultStore;

  /** Dispatches to the methods of `registry`, and `system.getresult` to `results`. */
  constructor(registry: Registry, results: ResultStore) {
    this.#registry = registry;
    this.#results = results;
  }

  /** Runs `call`; see {@linkcode Dispatcher.dispatch}. */
  dispatch(call: CallRequest, context: CallContext): Answer | Promise<Answer> {
    if (call.method === GETRESULT) return this.#getResult(call);
    const method = this.#registry.get(call.method);
    if (!method) {
      if (call.method.startsWith(SYSTEM_PREFIX)) {
        throw new UnsupportSysMethodError(`unsupported system method '${call.method}'`);
      }
      throw new NotFindError(`no method named '${call.method}'`);
    }
    const args = bindArguments(method.parameters, call.args, call.kwargs);
    const result = runInCall(context, () => method.run(args));
    return isThenable(result)
      ? Promise.resolve(result).then((value) => toAnswer(value, context))
      : toAnswer(result, context);
  }

  #getResult(call: CallRequest): Promise<Answer> {
    const [id] = bindArguments(GETRESULT_PARAMS, call.args, call.kwargs);
    const stored = this.#results.take(String(id));
    if (!stored) throw new RequestError(`no result for ID ${id} (unknown, or already taken)`);
    return stored;
  }
}
