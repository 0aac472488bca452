/**
 * `AsyncRPC`, the asynchronous MPRPC client: a facade over one {@linkcode ClientSession} at a
 * time (the connection's state), which it replaces whole on reconnect.
 *
 * @module
 */
import { type BrokerAddress, parseTarget, type Target } from "../protocol/address.ts";
import {
  LoginError,
  type MprpcError,
  RpcUnavailableException,
  TimeoutException,
} from "../protocol/errors.ts";
import { backoffDelay, sleep } from "../util/backoff.ts";
import { MAX_TIMER_DELAY, timer } from "../util/timers.ts";
import { Wakeup } from "../util/wakeup.ts";
import { askBrokers } from "./broker_resolver.ts";
import type { HandshakeReply } from "../protocol/messages.ts";
import { checkOptions } from "../util/options.ts";
import { Codec } from "../wire/codec.ts";
import {
  CALL_OPTIONS,
  type CallOptions,
  CLIENT_OPTIONS,
  type ClientOptions,
  ClientSession,
  RECONNECT_OPTIONS,
  type ReconnectOptions,
} from "./client_session.ts";
import { callOptionsView, withRemoteMethods } from "./remote_proxy.ts";
import { checkMiddleware, runAround } from "../call/middleware.ts";
import type { TraceCarrier } from "../protocol/call_message.ts";
import type { ClientMiddleware, ClientMiddlewareContext } from "./middleware.ts";
import { traceCall } from "./tracing.ts";
import type { AsyncApi, AsyncResult, MethodArgs, MethodName, WithSystem } from "./typed_api.ts";

export type {
  CallOptions,
  ClientMiddleware,
  ClientMiddlewareContext,
  ClientOptions,
  ReconnectOptions,
};

/** The `detail` of an {@linkcode AsyncRPC} `"disconnect"` event. */
export interface DisconnectDetail {
  /** Why the connection ended; calls that were in flight on it failed with it. */
  error: MprpcError;
  /** Whether the client is reconnecting. */
  reconnecting: boolean;
}

/** The `detail` of an {@linkcode AsyncRPC} `"reconnect"` event. */
export interface ReconnectDetail {
  /** The server's `host:port` now. */
  remoteAddress: string;
  /** Attempts it took. */
  attempts: number;
}

/**
 * A remote method: call it to call the method, or read a property for a dotted name
 * (`rpc.system.listMethods`). Resolves to the result, or to an `AsyncIterable` for a stream.
 */
export interface RemoteMethod {
  // deno-lint-ignore no-explicit-any
  <T = any>(...args: unknown[]): Promise<T>;
  /** The method `<this name>.<name>`. */
  readonly [name: string]: RemoteMethod;
}

/**
 * Attribute-style access to remote methods: any name, each a {@linkcode RemoteMethod}; or, given
 * the server's API type, its methods typed (see {@linkcode AsyncApi}), `system.*` included.
 */
// deno-lint-ignore no-explicit-any
export type Remote<API = any> = unknown extends API ? { readonly [name: string]: RemoteMethod }
  : AsyncApi<WithSystem<API>>;

/** What {@linkcode AsyncRPC.with} returns: attribute calls and `call`, carrying call options. */
// deno-lint-ignore no-explicit-any
export type RemoteView<API = any> = Omit<Remote<API>, "call"> & { call: AsyncRPC<API>["call"] };

/**
 * An {@linkcode AsyncRPC} with attribute-style calls typed; what {@linkcode AsyncRPC.connect}
 * resolves to. A remote method named like a member of the client is reached with `call`.
 */
// deno-lint-ignore no-explicit-any
export type AsyncRPCClient<API = any> = AsyncRPC<API> & Omit<Remote<API>, keyof AsyncRPC>;

// The named arguments of a call given none: never changed, so one object serves every call.
const NO_KWARGS: Record<string, unknown> = Object.freeze({});

// How many times a broker:// connect asks the brokers again when the server named is unreachable.
const BROKER_ROUNDS = 3;

// A timeout in seconds as calls take it: 0, or one past a timer's range, is none.
function limit(seconds: number | undefined): number | undefined {
  return seconds && seconds * 1000 <= MAX_TIMER_DELAY ? seconds : undefined;
}

function checkReconnect(reconnect: ClientOptions["reconnect"]): void {
  if (reconnect === undefined || typeof reconnect === "boolean") return;
  if (typeof reconnect !== "object" || reconnect === null) {
    throw new TypeError(
      `reconnect must be true, false or { minDelay, maxDelay }, not ${reconnect}`,
    );
  }
  checkOptions("ReconnectOptions", reconnect, RECONNECT_OPTIONS);
  const { minDelay = 0.1, maxDelay = 5 } = reconnect;
  if (!(minDelay > 0 && maxDelay >= minDelay && maxDelay * 1000 <= MAX_TIMER_DELAY)) {
    throw new TypeError(
      `reconnect delays must be seconds with 0 < minDelay <= maxDelay, not ${minDelay} and ${maxDelay}`,
    );
  }
}

/**
 * The asynchronous MPRPC client. Remote methods are called as attributes through a Proxy; a
 * remote method whose name collides with one of this class's members is reached with
 * {@linkcode AsyncRPC.call}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncRPC, Server } from "mprpc";
 *
 * await using server = new Server({ port: 0 });
 * server.registerFunction(function testfunc(a: number, b: number) {
 *   return a + b;
 * });
 * server.registerFunction(async function* testcorogen(a: number, b: number) {
 *   for (let i = a; i < b; i++) yield i;
 * });
 * await server.listen();
 *
 * await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
 * assert.equal(await rpc.testfunc(5, 4), 9);
 * assert.equal(await rpc.call("testfunc", [], { a: 1, b: 2 }), 3);
 * const items = [];
 * for await (const item of await rpc.testcorogen(1, 3)) items.push(item);
 * assert.deepEqual(items, [1, 2]);
 * ```
 */
// deno-lint-ignore no-explicit-any
export class AsyncRPC<API = any> extends EventTarget implements AsyncDisposable {
  readonly #target: Target;
  readonly #options: ClientOptions;
  readonly #proxy: this;
  #codec?: Promise<Codec>;
  #session?: ClientSession;
  #connecting?: Promise<ClientSession>;
  // Whether the application wants a connection: from connect() until close().
  #wanted = false;
  // Aborts the reconnect loop's waits on close(); replaced for the next connect().
  #stop = new AbortController();
  #reconnecting?: Promise<void>;
  // Woken when a connection comes back, or the client is closed: calls waiting for one go on.
  readonly #changed = new Wakeup();
  #lastAttempt?: unknown;
  // Connections in a row that were lost soon after they opened: the next reconnect backs off
  // from there, so a server that accepts and then drops every connection is not hammered.
  #shortLived = 0;
  #openedAt = 0;
  // The broker that last named a server: asked first next time.
  #broker = 0;
  // Replaced, never changed in place: a call runs the chain it started with.
  #middleware: readonly ClientMiddleware[] = [];

  /**
   * Creates a client for `url`: a server (`tcp://user:pass@host:port`), or brokers that name one
   * (`broker://user:pass@host:port[,host:port…]`, tried in turn); call
   * {@linkcode AsyncRPC.connect} next. A malformed URL or an unknown option is a `TypeError` here.
   */
  constructor(url: string, options: ClientOptions = {}) {
    super();
    checkOptions("ClientOptions", options, CLIENT_OPTIONS);
    checkReconnect(options.reconnect);
    this.#target = parseTarget(url);
    this.#options = { ...options };
    // Methods that return `this` return the Proxy.
    this.#proxy = withRemoteMethods(this, (name, args) => (this as AsyncRPC).call(name, args));
    return this.#proxy;
  }

  /**
   * Creates a client and connects it. Given the server's API type (`connect<typeof api>(url)`),
   * its methods, `call` and `delay` are typed: see the README's "Typed client".
   */
  // deno-lint-ignore no-explicit-any
  static async connect<API = any>(
    url: string,
    options?: ClientOptions,
  ): Promise<AsyncRPCClient<API>> {
    return await new AsyncRPC<API>(url, options).connect() as AsyncRPCClient<API>;
  }

  /** The server's handshake reply (`VERSION`, `DESC`, `DEBUG`, `COMPRESER`, `TIMEOUT`). */
  get remoteInfo(): HandshakeReply | undefined {
    return this.#session?.info;
  }

  /** The `host:port` of the server of the current (or last) connection; a broker's pick shows here. */
  get remoteAddress(): string | undefined {
    return this.#session?.remoteAddress;
  }

  /**
   * Resolves when the current connection ends, with the error its calls failed with (for
   * example a `TimeoutException` after the server's idle timeout). With `reconnect` on, a new
   * connection may follow: the `"disconnect"` and `"reconnect"` events tell each change.
   */
  get closed(): Promise<MprpcError> {
    return this.#session?.closed ??
      Promise.resolve(new RpcUnavailableException("not connected: call connect() first"));
  }

  /** Whether the connection is open. */
  get connected(): boolean {
    return this.#session?.open ?? false;
  }

  /**
   * Connects and authenticates (through a broker for a `broker://` address); rejects with
   * `LoginError` if refused. Connected already, it does nothing; a connect already under way is
   * joined, never duplicated. A failed first connect is not retried: `reconnect` applies to a
   * connection that was established, then lost.
   */
  async connect(): Promise<this> {
    if (this.#session?.open) return this.#proxy;
    // Wanted from now on, so that a close() during the connect wins; a connect that fails gives
    // the want back (a failed first connect is not retried), unless close() came meanwhile.
    const [stop, wanted] = [this.#stop, this.#wanted];
    this.#wanted = true;
    try {
      await this.#connectOnce();
    } catch (err) {
      if (this.#stop === stop) this.#wanted = wanted;
      throw err;
    }
    return this.#proxy;
  }

  /** An untyped client's call, its result typed by the caller: `rpc.call<number>("add", [1, 2])`. */
  // deno-lint-ignore no-explicit-any
  call<T = any>(
    ...call: unknown extends API
      ? [method: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: CallOptions]
      : never
  ): Promise<T>;
  /**
   * Calls `method` with positional `args` and named `kwargs`. Resolves to its result, or to an
   * `AsyncIterable` of the items of a streamed result (`break` out of it to stop reading, which
   * cancels the call on the server). `options` give this call an `AbortSignal` and a timeout.
   * Typed by the client's API (see {@linkcode AsyncRPC.connect}): `method` is one of its names,
   * `args` its leading parameters, and the result what the method resolves to.
   */
  call<M extends MethodName<WithSystem<API>>>(
    method: M,
    args?: MethodArgs<WithSystem<API>, M>,
    kwargs?: Record<string, unknown>,
    options?: CallOptions,
  ): Promise<AsyncResult<WithSystem<API>, M>>;
  // Not `async`: on the hot path the session's own promise is handed back, with no wrapper.
  call(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = NO_KWARGS,
    options?: CallOptions,
  ): Promise<unknown> {
    try {
      checkOptions("CallOptions", options, CALL_OPTIONS);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#middleware.length > 0 || this.#options.tracing) {
      return this.#callAround(method, args, kwargs, options);
    }
    return this.#send(method, args, kwargs, options);
  }

  /**
   * Adds `middleware` around every call made from now on (`call`, attribute calls, `with()`
   * views; not `delay`, whose outcome `system.getresult` fetches later), inside the middleware
   * added before it: the first added runs first. With `tracing`, the call's span encloses them
   * all. See {@linkcode ClientMiddleware}.
   *
   * @example Retrying a call the server was too busy for, and timing calls
   * ```ts
   * import assert from "node:assert/strict";
   * import { AsyncRPC, RpcUnavailableException, Server } from "mprpc";
   *
   * await using server = new Server({ port: 0 });
   * let busy = 2;
   * server.registerFunction(function add(a: number, b: number) {
   *   if (busy-- > 0) throw new RpcUnavailableException("busy");
   *   return a + b;
   * });
   * await server.listen();
   *
   * await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
   * const log: string[] = [];
   * rpc.use(async (ctx, next) => {
   *   const started = performance.now();
   *   const result = await next();
   *   log.push(`${ctx.method}(${ctx.args}) in ${(performance.now() - started).toFixed(1)} ms`);
   *   return result;
   * });
   * rpc.use(async (_ctx, next) => {
   *   for (let attempt = 1;; attempt++) {
   *     try {
   *       return await next();
   *     } catch (err) {
   *       if (!(err instanceof RpcUnavailableException) || attempt === 3) throw err;
   *     }
   *   }
   * });
   * assert.equal(await rpc.add(1, 2), 3);
   * assert.equal(log.length, 1);
   * ```
   */
  use(middleware: ClientMiddleware): this {
    checkMiddleware(middleware);
    this.#middleware = [...this.#middleware, middleware];
    return this.#proxy;
  }

  // Each time `next()` is called the call is sent anew (a retry): with a new ID, and the span's
  // trace context (`trace`).
  #callAround(
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options?: CallOptions,
  ): Promise<unknown> {
    const ctx: ClientMiddlewareContext = { method, args, kwargs, options: { ...options } };
    const chain = this.#middleware;
    const run = (trace?: TraceCarrier) =>
      runAround(chain, ctx, (c) => {
        checkOptions("CallOptions", c.options, CALL_OPTIONS); // what middleware set, too
        return this.#send(c.method, c.args, c.kwargs, c.options, trace);
      });
    return this.#options.tracing ? traceCall(method, run) : run();
  }

  // Sends the call on the open connection, or on the next one.
  #send(
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options?: CallOptions,
    trace?: TraceCarrier,
  ): Promise<unknown> {
    const session = this.#session;
    if (session?.open) return session.call(method, args, kwargs, options, trace);
    return this.#callLater(method, args, kwargs, options, trace);
  }

  /**
   * A view of this client whose calls carry `options` (an `AbortSignal`, a timeout), attribute
   * calls included: `await rpc.with({ timeout: 1 }).slow()`.
   *
   * @example Cancelling calls together
   * ```ts
   * import assert from "node:assert/strict";
   * import { AsyncRPC, Server } from "mprpc";
   *
   * await using server = new Server({ port: 0 });
   * server.registerFunction(function add(a: number, b: number) {
   *   return a + b;
   * });
   * await server.listen();
   * await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
   * const controller = new AbortController();
   * const scoped = rpc.with({ signal: controller.signal, timeout: 5 });
   * assert.equal(await scoped.add(1, 2), 3);
   * controller.abort(new Error("no longer needed"));
   * await assert.rejects(scoped.add(3, 4), /no longer needed/);
   * ```
   */
  with(options: CallOptions): RemoteView<API> {
    checkOptions("CallOptions", options, CALL_OPTIONS);
    const view = callOptionsView((...call) => (this as AsyncRPC).call(...call), options);
    return view as RemoteView<API>;
  }

  /**
   * Calls `method` without waiting for its outcome (`RETURN: false`); resolves to the call's ID
   * once sent. Fetch the outcome later with `rpc.system.getresult(id)`.
   */
  delay<M extends MethodName<WithSystem<API>>>(
    method: M,
    args?: MethodArgs<WithSystem<API>, M>,
    kwargs?: Record<string, unknown>,
  ): Promise<string>;
  async delay(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<string> {
    const session = this.#session;
    if (session?.open) return session.delay(method, args, kwargs);
    return (await this.#reconnected(this.#waitLimit())).delay(method, args, kwargs);
  }

  /** Closes the connection and reconnects. */
  async reconnect(): Promise<this> {
    await this.close();
    return await this.connect();
  }

  /**
   * Closes the connection and stops reconnecting; calls still waiting fail with
   * `RpcUnavailableException`. A connect under way is waited for and then closed, so no socket
   * outlives this.
   */
  async close(): Promise<void> {
    this.#wanted = false;
    this.#stop.abort();
    this.#stop = new AbortController();
    this.#changed.wake();
    await this.#connecting?.catch(() => {});
    await this.#reconnecting;
    await this.#session?.close();
  }

  /** Closes the client: `await using rpc = await AsyncRPC.connect(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Sends the protocol's heartbeat ping and resolves to the round trip in milliseconds, once the
   * pong is back (any MPRPC server answers it, pymprpc's too). Rejects if the connection ends
   * first, or past the client's `timeout`; waits for a lost connection like a call does. Not
   * named `ping`: `rpc.ping()` calls a server's own `ping` method, as it always has.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AsyncRPC, Server } from "mprpc";
   *
   * await using server = new Server({ port: 0 });
   * await server.listen();
   * await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
   * const ms = await rpc.roundTrip();
   * assert.ok(ms >= 0 && ms < 10_000);
   * ```
   */
  async roundTrip(): Promise<number> {
    const session = this.#session;
    if (session?.open) return await session.ping();
    return await (await this.#reconnected(this.#waitLimit())).ping();
  }

  // Opens a connection, joining one already being opened (by connect() or the reconnect loop).
  #connectOnce(): Promise<ClientSession> {
    this.#connecting ??= this.#open().finally(() => this.#connecting = undefined);
    return this.#connecting;
  }

  async #open(): Promise<ClientSession> {
    this.#codec ??= Codec.create({
      debug: this.#options.debug,
      compression: this.#options.compression,
      maxMessageSize: this.#options.maxMessageSize,
    });
    const codec = await this.#codec;
    const session = this.#target.kind === "server"
      ? await ClientSession.open(this.#target.address, this.#options, codec)
      : await this.#openThroughBrokers(this.#target.address, codec);
    this.#session = session;
    this.#openedAt = Date.now();
    session.closed.then((error) => this.#lost(session, error));
    return session;
  }

  // Asks the brokers for a server and connects to it. A server that cannot be reached (it died,
  // and its broker has not noticed yet) is no reason to fail: the brokers are asked again, a few
  // times. The broker that answered is asked first next time.
  async #openThroughBrokers(brokers: BrokerAddress, codec: Codec): Promise<ClientSession> {
    for (let round = 1;; round++) {
      const [address, answered] = await askBrokers(brokers, this.#broker, this.#options, codec);
      this.#broker = answered;
      try {
        return await ClientSession.open(address, this.#options, codec);
      } catch (err) {
        if (round === BROKER_ROUNDS || err instanceof LoginError) throw err;
      }
    }
  }

  // The connection of `session` ended. Unless the application closed it, say so, and reconnect
  // at once; after an idle timeout, only when the next call needs the connection.
  #lost(session: ClientSession, error: MprpcError): void {
    if (session !== this.#session || !this.#wanted) return;
    const { maxDelay } = this.#delays();
    this.#shortLived = Date.now() - this.#openedAt < maxDelay ? this.#shortLived + 1 : 0;
    // The server's idle timeout (a connection-level 504) is the one loss not worth repairing now.
    const idle = error instanceof TimeoutException;
    const reconnecting = this.#options.reconnect !== false && !idle;
    this.dispatchEvent(
      new CustomEvent<DisconnectDetail>("disconnect", {
        detail: { error, reconnecting },
      }),
    );
    if (reconnecting) this.#startReconnecting();
  }

  #startReconnecting(): void {
    this.#reconnecting ??= this.#reconnectLoop().finally(() => this.#reconnecting = undefined);
  }

  // Milliseconds between reconnect attempts.
  #delays(): { minDelay: number; maxDelay: number } {
    const { minDelay = 0.1, maxDelay = 5 } = typeof this.#options.reconnect === "object"
      ? this.#options.reconnect
      : {};
    return { minDelay: minDelay * 1000, maxDelay: maxDelay * 1000 };
  }

  // Reconnects: at once, then backing off. It ends once connected (by itself, or by connect()),
  // or when the client is closed.
  async #reconnectLoop(): Promise<void> {
    const { minDelay, maxDelay } = this.#delays();
    const stop = this.#stop.signal;
    for (let attempt = this.#shortLived; this.#wanted; attempt++) {
      const delay = attempt === 0 ? 0 : backoffDelay(attempt - 1, minDelay, maxDelay);
      if (!await sleep(delay, stop) || this.#session?.open) return;
      try {
        const session = await this.#connectOnce();
        this.#lastAttempt = undefined;
        this.#changed.wake();
        if (stop.aborted) return; // closed meanwhile: close() closes the session
        this.dispatchEvent(
          new CustomEvent<ReconnectDetail>("reconnect", {
            detail: { remoteAddress: session.remoteAddress, attempts: attempt + 1 },
          }),
        );
        return;
      } catch (err) {
        this.#lastAttempt = err;
      }
    }
  }

  // A call made while the connection is down: it waits for the next one, for at most
  // `connectTimeout` and what is left of its own timeout, which the wait counts against.
  async #callLater(
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options?: CallOptions,
    trace?: TraceCarrier,
  ): Promise<unknown> {
    const started = Date.now();
    const timeout = limit(options?.timeout ?? this.#options.timeout);
    const session = await this.#reconnected(this.#waitLimit(timeout), options?.signal);
    if (timeout === undefined) return await session.call(method, args, kwargs, options, trace);
    const left = Math.max(0.001, timeout - (Date.now() - started) / 1000);
    return await session.call(method, args, kwargs, { ...options, timeout: left }, trace);
  }

  #waitLimit(timeout?: number): number {
    return Math.min(timeout ?? Infinity, this.#options.connectTimeout ?? 10);
  }

  // The open session once there is one again, within `seconds`; rejects at once if the client is
  // not reconnecting (closed, never connected, or reconnect turned off).
  async #reconnected(seconds: number, signal?: AbortSignal): Promise<ClientSession> {
    if (this.#wanted && this.#options.reconnect !== false) this.#startReconnecting();
    let expired = false;
    const expiry = timer(() => {
      expired = true;
      this.#changed.wake();
    }, seconds * 1000);
    const aborted = () => this.#changed.wake();
    signal?.addEventListener("abort", aborted, { once: true });
    try {
      while (true) {
        signal?.throwIfAborted();
        const session = this.#session;
        if (session?.open) return session;
        if (!this.#wanted || !this.#reconnecting) throw this.#notConnected();
        if (expired) throw this.#stillDown(seconds);
        await this.#changed.wait();
      }
    } finally {
      clearTimeout(expiry);
      signal?.removeEventListener("abort", aborted);
    }
  }

  #notConnected(): MprpcError {
    if (!this.#wanted && this.#session) {
      return new RpcUnavailableException("the client is closed");
    }
    return this.#session?.closeReason ??
      new RpcUnavailableException("not connected: call connect() first");
  }

  #stillDown(seconds: number): MprpcError {
    const last = this.#lastAttempt;
    const why = last instanceof Error ? `; the last attempt: ${last.message}` : "";
    return new RpcUnavailableException(
      `the connection was lost and is not back after ${seconds} s${why}`,
      { cause: last },
    );
  }
}
