/**
 * What a handler can learn about the call it is serving, without a parameter for it: the
 * server runs each handler inside {@linkcode runInCall}, and the handler (or anything it calls,
 * across `await`s) reads {@linkcode callContext}. Built on `AsyncLocalStorage`, which Deno and
 * Node both provide.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** The call a handler is serving. */
export interface CallContext {
  /** The call's `ID`, as the client chose it. */
  readonly id: string;
  /** The method name as called (with its prefix, if any). */
  readonly method: string;
  /** `host:port` of the client. */
  readonly peer: string;
  /** The user name the client authenticated with; `null` when it sent none. */
  readonly user: string | null;
  /**
   * Aborts when the call's outcome is no longer wanted: today, when the client's connection
   * closes. Pass it on to `fetch`, timers, database drivers, so that abandoned work stops.
   */
  readonly signal: AbortSignal;
}

const storage = new AsyncLocalStorage<CallContext>();

/**
 * The call the current handler is serving. Throws outside a call (say, in a unit test that
 * calls the handler directly; wrap that in {@linkcode runInCall}).
 *
 * @example A handler that greets its caller
 * ```ts
 * import assert from "node:assert/strict";
 * import { callContext, runInCall } from "mprpc";
 * function whoami() {
 *   return callContext().user;
 * }
 * const signal = new AbortController().signal;
 * const context = { id: "1", method: "whoami", peer: "127.0.0.1:5", user: "ada", signal };
 * assert.equal(runInCall(context, whoami), "ada");
 * assert.throws(() => whoami(), /only while a call is served/);
 * ```
 */
export function callContext(): CallContext {
  const context = storage.getStore();
  if (!context) {
    throw new Error("callContext() is available only while a call is served, inside its handler");
  }
  return context;
}

/** Runs `fn` as serving the call `context`: {@linkcode callContext} inside it returns `context`. */
export function runInCall<T>(context: CallContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * `items` with every step of its iteration run as serving `context`. A generator's body runs
 * when its consumer calls `next()`, in the consumer's context, not where the generator was
 * created: without this, `callContext()` inside a streaming handler would find no call.
 */
export function iterateInCall<T>(
  context: CallContext,
  items: AsyncIterable<T>,
): AsyncIterableIterator<T> {
  const iterator = storage.run(context, () => items[Symbol.asyncIterator]());
  return {
    next: () => storage.run(context, () => iterator.next()),
    return: (value?: unknown) =>
      storage.run(
        context,
        () => iterator.return?.(value) ?? Promise.resolve({ done: true, value: undefined }),
      ) as Promise<IteratorResult<T>>,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
