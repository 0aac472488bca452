/**
 * `RPC`, the synchronous MPRPC client: calls return values, not promises. The connection lives
 * in a worker (with its heartbeat); each call blocks the caller until the worker answers.
 *
 * @module
 */
import { type CallOptions, CLIENT_OPTIONS, type ClientOptions } from "./client_session.ts";
import { checkOptions, optionNames } from "../util/options.ts";
import { Decoder } from "../../deps.ts";
import { parseTarget } from "../protocol/address.ts";
import { ConnectionLostError, errorFromCode, RpcUnavailableException } from "../protocol/errors.ts";
import { spawnWorker } from "../platform/runtime.deno.ts";
import type { WorkerHandle } from "../platform/runtime.ts";
import type { HandshakeReply } from "../protocol/messages.ts";
import { callOptionsView, withRemoteMethods } from "./remote_proxy.ts";
import { checkMiddleware, runAroundSync } from "../call/middleware.ts";
import type { SyncClientMiddleware, SyncClientMiddlewareContext } from "./middleware.ts";
import { createChannel, nextSeq, readMessage } from "./shared_channel.ts";
import type { SyncOperation, SyncReply, SyncRequest } from "./sync_messages.ts";
import type { MethodArgs, MethodName, SyncApi, SyncResult, WithSystem } from "./typed_api.ts";

export type { SyncClientMiddleware, SyncClientMiddlewareContext };

const WORKER_URL = new URL("./sync_worker.ts", import.meta.url);
/**
 * How long the caller waits beyond a call's own timeout before giving up on the worker. The
 * worker's client times the call out itself at `timeout` and answers at once, so the margin only
 * covers the worker's latency: scheduling, and passing the answer through the window. Giving up
 * too early costs nothing but that call: its late answer is dropped by number, never taken for
 * the next one's.
 */
const WORKER_MARGIN_MS = 1000;
/** How long `close()` waits for the worker to close the connection. */
const CLOSE_TIMEOUT_MS = 5000;

/**
 * A remote method of the synchronous client: call it for the result (a sync iterable for a
 * stream), or read a property for a dotted name.
 */
export interface SyncRemoteMethod {
  // deno-lint-ignore no-explicit-any
  <T = any>(...args: unknown[]): T;
  /** The method `<this name>.<name>`. */
  readonly [name: string]: SyncRemoteMethod;
}

/** Options of one synchronous call: a timeout (a blocked caller cannot be aborted by a signal). */
export type SyncCallOptions = Pick<CallOptions, "timeout">;

const SYNC_CALL_OPTIONS = optionNames<SyncCallOptions>({ timeout: true });

/**
 * Attribute-style access to the synchronous client's remote methods: any name, each a
 * {@linkcode SyncRemoteMethod}; or, given the server's API type, its methods typed (see
 * {@linkcode SyncApi}), `system.*` included.
 */
// deno-lint-ignore no-explicit-any
export type SyncRemote<API = any> = unknown extends API
  ? { readonly [name: string]: SyncRemoteMethod }
  : SyncApi<WithSystem<API>>;

/** What {@linkcode RPC.with} returns: attribute calls and `call`, carrying call options. */
// deno-lint-ignore no-explicit-any
export type SyncRemoteView<API = any> = Omit<SyncRemote<API>, "call"> & { call: RPC<API>["call"] };

/**
 * An {@linkcode RPC} with attribute-style calls typed; what {@linkcode RPC.connect} returns. A
 * remote method named like a member of the client is reached with `call`.
 */
// deno-lint-ignore no-explicit-any
export type RPCClient<API = any> = RPC<API> & Omit<SyncRemote<API>, keyof RPC>;

/**
 * The synchronous MPRPC client. Same options, errors and attribute calls as `AsyncRPC`, without
 * `await`. Unlike pymprpc's synchronous client it sends heartbeats (from its worker, while the
 * caller is idle or blocked) and notices a connection the server closed.
 *
 * Do not use it on the thread that runs the server it calls: blocking that thread would
 * deadlock.
 *
 * @example Not run as a doc test: the server must run in another process (see above)
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { RPC } from "mprpc";
 * using rpc = RPC.connect("tcp://admin:admin@127.0.0.1:5000", { heartbeat: 40 });
 * assert.equal(rpc.testfunc(5, 4), 9);
 * assert.deepEqual([...rpc.testcorogen(1, 3)], [1, 2]);
 * ```
 */
// deno-lint-ignore no-explicit-any
export class RPC<API = any> implements Disposable {
  readonly #url: string;
  readonly #options: ClientOptions;
  readonly #hops: number;
  readonly #decoder = new Decoder();
  readonly #proxy: this;
  // Replaced, never changed in place: a call runs the chain it started with.
  #middleware: readonly SyncClientMiddleware[] = [];
  #worker?: WorkerHandle;
  #channel?: SharedArrayBuffer;
  #remoteInfo?: HandshakeReply;
  /** The number of the last request: each reply is read by its number. */
  #seq = 0;

  /**
   * Creates a client for `url`, a server (`tcp://user:pass@host:port`) or brokers that name one
   * (`broker://user:pass@host:port[,host:port…]`); call {@linkcode RPC.connect} next.
   */
  constructor(url: string, options: ClientOptions = {}) {
    // A malformed URL or an unknown option fails here, not later inside the worker.
    checkOptions("ClientOptions", options, CLIENT_OPTIONS);
    if (options.tracing) {
      throw new TypeError(
        "tracing is for AsyncRPC: RPC's calls run in a worker, outside the application's tracer",
      );
    }
    const target = parseTarget(url);
    // Each broker may take connectTimeout to answer, then the server.
    this.#hops = target.kind === "broker" ? target.address.brokers.length + 1 : 1;
    this.#url = url;
    this.#options = options;
    this.#proxy = withRemoteMethods(this, (name, args) => (this as RPC).call(name, args));
    return this.#proxy;
  }

  /**
   * Creates a client and connects it. Given the server's API type (`connect<typeof api>(url)`),
   * its methods, `call` and `delay` are typed: see the README's "Typed client".
   */
  // deno-lint-ignore no-explicit-any
  static connect<API = any>(url: string, options?: ClientOptions): RPCClient<API> {
    return new RPC<API>(url, options).connect() as RPCClient<API>;
  }

  /** The server's handshake reply. */
  get remoteInfo(): HandshakeReply | undefined {
    return this.#remoteInfo;
  }

  /** Connects and authenticates; throws `LoginError` if the server refuses. */
  connect(): this {
    if (this.#worker) return this.#proxy;
    this.#channel = createChannel();
    this.#worker = spawnWorker(WORKER_URL, {
      onMessage: () => {},
      // Reported by the next call, which finds the worker gone.
      onError: () => this.#terminate(),
    });
    try {
      const connect: SyncOperation = {
        op: "connect",
        url: this.#url,
        options: this.#options,
        channel: this.#channel,
      };
      this.#remoteInfo = this.#request(connect, this.#connectTimeout()) as HandshakeReply;
    } catch (err) {
      this.#terminate();
      throw err;
    }
    return this.#proxy;
  }

  /** An untyped client's call, its result typed by the caller: `rpc.call<number>("add", [1, 2])`. */
  // deno-lint-ignore no-explicit-any
  call<T = any>(
    ...call: unknown extends API ? [
        method: string,
        args?: unknown[],
        kwargs?: Record<string, unknown>,
        options?: SyncCallOptions,
      ]
      : never
  ): T;
  /**
   * Calls `method` with positional `args` and named `kwargs`; returns its result, or a sync
   * iterable of the items of a streamed result. `options.timeout` overrides the client's. Typed
   * by the client's API (see {@linkcode RPC.connect}), as `AsyncRPC`'s `call` is.
   */
  call<M extends MethodName<WithSystem<API>>>(
    method: M,
    args?: MethodArgs<WithSystem<API>, M>,
    kwargs?: Record<string, unknown>,
    options?: SyncCallOptions,
  ): SyncResult<WithSystem<API>, M>;
  call(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options: SyncCallOptions = {},
  ): unknown {
    checkOptions("SyncCallOptions", options, SYNC_CALL_OPTIONS);
    if (this.#middleware.length === 0) return this.#send(method, args, kwargs, options);
    const ctx: SyncClientMiddlewareContext = { method, args, kwargs, options: { ...options } };
    const result = runAroundSync(this.#middleware, ctx, (c) => {
      checkOptions("SyncCallOptions", c.options, SYNC_CALL_OPTIONS); // what middleware set, too
      return this.#send(c.method, c.args, c.kwargs, c.options);
    });
    if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
      (result as PromiseLike<unknown>).then(undefined, () => {}); // its failure is this TypeError
      throw new TypeError(
        "a middleware of RPC returned a promise (the call was made): RPC's middleware is synchronous",
      );
    }
    return result;
  }

  /**
   * Adds `middleware` around every call made from now on (`call`, attribute calls, `with()`
   * views; not `delay`), inside the middleware added before it: the first added runs first. It
   * runs on the caller's thread; see {@linkcode SyncClientMiddleware}.
   *
   * @example Not run as a doc test: the server must run in another process (see above)
   * ```ts ignore
   * import assert from "node:assert/strict";
   * import { RPC } from "mprpc";
   * using rpc = RPC.connect("tcp://admin:admin@127.0.0.1:5000");
   * rpc.use((ctx, next) => {
   *   const started = performance.now();
   *   try {
   *     return next();
   *   } finally {
   *     console.info(ctx.method, performance.now() - started);
   *   }
   * });
   * assert.equal(rpc.testfunc(5, 4), 9);
   * ```
   */
  use(middleware: SyncClientMiddleware): this {
    checkMiddleware(middleware);
    if (middleware.constructor.name === "AsyncFunction") {
      throw new TypeError("RPC.use takes plain functions: `next()` blocks and returns the result");
    }
    this.#middleware = [...this.#middleware, middleware];
    return this.#proxy;
  }

  #send(
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options: SyncCallOptions,
  ) {
    const { timeout } = options;
    const wait = this.#callTimeout(timeout);
    const reply = this.#request({ op: "call", method, args, kwargs, timeout }, wait) as {
      value?: unknown;
      stream?: number;
    };
    return reply.stream === undefined ? reply.value : this.#iterate(reply.stream, wait);
  }

  /**
   * A view of this client whose calls carry `options`, attribute calls included:
   * `rpc.with({ timeout: 1 }).slow()`.
   */
  with(options: SyncCallOptions): SyncRemoteView<API> {
    checkOptions("SyncCallOptions", options, SYNC_CALL_OPTIONS);
    const view = callOptionsView((...call) => (this as RPC).call(...call), options);
    return view as SyncRemoteView<API>;
  }

  /** Calls `method` without waiting for its outcome; returns the ID for `system.getresult`. */
  delay<M extends MethodName<WithSystem<API>>>(
    method: M,
    args?: MethodArgs<WithSystem<API>, M>,
    kwargs?: Record<string, unknown>,
  ): string;
  delay(method: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}): string {
    return this.#request({ op: "delay", method, args, kwargs }) as string;
  }

  /** Closes the connection and connects again. */
  reconnect(): this {
    if (!this.#worker) return this.connect();
    this.#remoteInfo = this.#request({ op: "reconnect" }, this.#connectTimeout()) as HandshakeReply;
    return this.#proxy;
  }

  /** Closes the connection and stops the worker. */
  close(): void {
    if (!this.#worker) return;
    try {
      this.#request({ op: "close" }, CLOSE_TIMEOUT_MS);
    } finally {
      this.#terminate();
    }
  }

  /** Closes the client: `using rpc = RPC.connect(…)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  *#iterate(stream: number, wait: number): Generator<unknown> {
    let finished = false;
    try {
      while (true) {
        const { done, value } = this.#request({ op: "next", stream }, wait) as {
          done: boolean;
          value: unknown;
        };
        if (done) return void (finished = true);
        yield value;
      }
    } finally {
      // Left early (break, return, a throw in the loop body, a timed-out or failed next):
      // release the stream in the worker, or it would buffer what the server still sends.
      if (!finished) this.#worker?.post({ op: "return", stream } satisfies SyncRequest);
    }
  }

  #request(operation: SyncOperation, timeout = this.#callTimeout()): unknown {
    if (!this.#worker || !this.#channel) {
      throw new RpcUnavailableException("not connected: call connect() first");
    }
    const seq = this.#seq = nextSeq(this.#seq);
    this.#worker.post({ ...operation, seq } satisfies SyncRequest);
    const bytes = readMessage(this.#channel, seq, timeout);
    const reply = this.#decoder.decode(bytes) as SyncReply;
    if (reply.ok) return reply.value;
    const { code, message, id, exception, data, lost } = reply;
    if (lost) throw new ConnectionLostError(message, { id });
    throw errorFromCode(code, message, { id, exception, data });
  }

  // How long the caller blocks for one answer: the call's timeout (the worker's client enforces
  // it) plus a margin for the worker itself.
  #callTimeout(seconds = this.#options.timeout): number {
    return seconds ? seconds * 1000 + WORKER_MARGIN_MS : Infinity;
  }

  #connectTimeout(): number {
    return (this.#options.connectTimeout ?? 10) * 1000 * this.#hops + WORKER_MARGIN_MS;
  }

  #terminate(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#channel = undefined;
  }
}
