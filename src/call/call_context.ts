/**
 * What a handler can learn about the call it is serving, without a parameter for it: the
 * handler (or anything it calls) reads {@linkcode callContext}.
 *
 * Two mechanisms, one answer. An `async` handler runs inside an `AsyncLocalStorage` frame
 * ({@linkcode runInCall}), which follows it across every `await`. A plain handler runs
 * synchronously, so a variable set around that run ({@linkcode runInCallSync}) is enough: entering
 * an `AsyncLocalStorage` frame costs about a microsecond on Deno, as much as the rest of a call.
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { PeerCertificate } from "../platform/transport.ts";

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
   * The certificate the client presented, on a TLS server that asks for one (`tls.ca`): its
   * `subject` (`{ CN, O, … }`) and `fingerprint256`.
   */
  readonly certificate?: PeerCertificate;
  /**
   * Aborts when the call's outcome is no longer wanted: the client cancelled it, its deadline
   * passed, or the client's connection closed (for a `RETURN: false` call, whose outcome another
   * connection may fetch: when the server stops). Pass it on to `fetch`, timers, database
   * drivers, so that abandoned work stops.
   */
  readonly signal: AbortSignal;
  /**
   * When the call must be over, in milliseconds since the epoch (by this process's clock), if the
   * client set a deadline; pass on what is left (`deadline - Date.now()`) to calls you make onward.
   */
  readonly deadline?: number;
}

const storage = new AsyncLocalStorage<CallContext>();
// The call of the handler running synchronously right now, if any: innermost, so it wins.
let running: CallContext | undefined;

/**
 * The call the current handler is serving. In an `async` handler (function or generator) it
 * holds across `await`s; in a plain function, during its synchronous run (a plain function that
 * returns a promise should be declared `async` to keep it in its callbacks). Throws outside a
 * call, say in a unit test that calls the handler directly: wrap that in {@linkcode runInCall}.
 *
 * @example A handler that greets its caller
 * ```ts
 * import assert from "node:assert/strict";
 * import { callContext, runInCall } from "mprpc";
 * async function whoami() {
 *   await Promise.resolve();
 *   return callContext().user;
 * }
 * const signal = new AbortController().signal;
 * const context = { id: "1", method: "whoami", peer: "127.0.0.1:5", user: "ada", signal };
 * assert.equal(await runInCall(context, whoami), "ada");
 * await assert.rejects(whoami(), /only while a call is served/);
 * ```
 */
export function callContext(): CallContext {
  const context = running ?? storage.getStore();
  if (!context) {
    throw new Error("callContext() is available only while a call is served, inside its handler");
  }
  return context;
}

/**
 * Runs `fn` as serving the call `context`: {@linkcode callContext} returns `context` inside it
 * and in everything it goes on to do asynchronously.
 */
export function runInCall<T>(context: CallContext, fn: () => T): T {
  return storage.run(context, fn);
}

/**
 * Runs `fn` as serving the call `context`, for its synchronous run only: what it leaves to run
 * later (promise callbacks, timers) does not see `context`. For plain handlers, at no cost: `fn`
 * gets its arguments `a` and `b` passed on, so that the caller needs no closure per call.
 */
export function runInCallSync<A, B, T>(
  context: CallContext,
  fn: (a: A, b: B) => T,
  a: A,
  b: B,
): T {
  const outer = running;
  running = context;
  try {
    return fn(a, b);
  } finally {
    running = outer;
  }
}
