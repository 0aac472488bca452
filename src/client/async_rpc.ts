/**
 * `AsyncRPC`, the asynchronous MPRPC client: a facade over one {@linkcode ClientSession} at a
 * time (the connection's state), which it replaces whole on reconnect.
 *
 * @module
 */
import { parseAddress, type ServerAddress } from "../protocol/address.ts";
import { type MprpcError, RpcUnavailableException } from "../protocol/errors.ts";
import type { HandshakeReply } from "../protocol/messages.ts";
import { checkOptions } from "../util/options.ts";
import { Codec } from "../wire/codec.ts";
import {
  CALL_OPTIONS,
  type CallOptions,
  CLIENT_OPTIONS,
  type ClientOptions,
  ClientSession,
} from "./client_session.ts";
import { callOptionsView, withRemoteMethods } from "./remote_proxy.ts";

export type { CallOptions, ClientOptions };

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

/** Attribute-style access to remote methods. */
export type Remote = { readonly [name: string]: RemoteMethod };

/** What {@linkcode AsyncRPC.with} returns: attribute calls and `call`, carrying call options. */
export type RemoteView = Remote & { call: AsyncRPC["call"] };

/** An {@linkcode AsyncRPC} with attribute-style calls typed. */
export type AsyncRPCClient = AsyncRPC & Remote;

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
export class AsyncRPC implements AsyncDisposable {
  readonly #address: ServerAddress;
  readonly #options: ClientOptions;
  readonly #proxy: this;
  #codec?: Promise<Codec>;
  #session?: ClientSession;
  #connecting?: Promise<ClientSession>;

  /**
   * Creates a client for `url` (`tcp://user:pass@host:port`); call {@linkcode AsyncRPC.connect}
   * next. A malformed URL or an unknown option is a `TypeError` here.
   */
  constructor(url: string, options: ClientOptions = {}) {
    checkOptions("ClientOptions", options, CLIENT_OPTIONS);
    this.#address = parseAddress(url);
    this.#options = { ...options };
    // Methods that return `this` return the Proxy.
    this.#proxy = withRemoteMethods(this, (name, args) => this.call(name, args));
    return this.#proxy;
  }

  /** Creates a client and connects it. */
  static async connect(url: string, options?: ClientOptions): Promise<AsyncRPCClient> {
    return await new AsyncRPC(url, options).connect() as AsyncRPCClient;
  }

  /** The server's handshake reply (`VERSION`, `DESC`, `DEBUG`, `COMPRESER`, `TIMEOUT`). */
  get remoteInfo(): HandshakeReply | undefined {
    return this.#session?.info;
  }

  /**
   * Resolves when the current connection ends, with the error its calls failed with (for
   * example a `TimeoutException` after the server's idle timeout).
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
   * Connects and authenticates; rejects with `LoginError` if the server refuses. Connected
   * already, it does nothing; a connect already under way is joined, never duplicated.
   */
  async connect(): Promise<this> {
    if (!this.#session?.open) {
      this.#connecting ??= this.#open().finally(() => this.#connecting = undefined);
      await this.#connecting;
    }
    return this.#proxy;
  }

  /**
   * Calls `method` with positional `args` and named `kwargs`. Resolves to its result, or to an
   * `AsyncIterable` of the items of a streamed result (`break` out of it to stop reading, which
   * cancels the call on the server). `options` give this call an `AbortSignal` and a timeout.
   */
  // deno-lint-ignore no-explicit-any
  async call<T = any>(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    options?: CallOptions,
  ): Promise<T> {
    checkOptions("CallOptions", options, CALL_OPTIONS);
    return await this.#current().call(method, args, kwargs, options) as T;
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
  with(options: CallOptions): RemoteView {
    checkOptions("CallOptions", options, CALL_OPTIONS);
    return callOptionsView((...call) => this.call(...call), options) as RemoteView;
  }

  /**
   * Calls `method` without waiting for its outcome (`RETURN: false`); resolves to the call's ID
   * once sent. Fetch the outcome later with `rpc.system.getresult(id)`.
   */
  delay(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<string> {
    return this.#current().delay(method, args, kwargs);
  }

  /** Closes the connection and reconnects. */
  async reconnect(): Promise<this> {
    await this.close();
    return await this.connect();
  }

  /**
   * Closes the connection; calls still waiting fail with `RpcUnavailableException`. A connect
   * under way is waited for and then closed, so no socket outlives this.
   */
  async close(): Promise<void> {
    await this.#connecting?.catch(() => {});
    await this.#session?.close();
  }

  /** Closes the client: `await using rpc = await AsyncRPC.connect(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #open(): Promise<ClientSession> {
    this.#codec ??= Codec.create({
      debug: this.#options.debug,
      compression: this.#options.compression,
      maxMessageSize: this.#options.maxMessageSize,
    });
    const session = await ClientSession.open(this.#address, this.#options, await this.#codec);
    this.#session = session;
    return session;
  }

  // The open session; else the reason the last one ended.
  #current(): ClientSession {
    const session = this.#session;
    if (session?.open) return session;
    throw session?.closeReason ??
      new RpcUnavailableException("not connected: call connect() first");
  }
}
