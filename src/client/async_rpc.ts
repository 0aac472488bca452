/**
 * `AsyncRPC`, the asynchronous MPRPC client.
 *
 * @module
 */
import { deferred } from "../util/deferred.ts";
import { parseAddress } from "../protocol/address.ts";
import { Codec } from "../wire/codec.ts";
import { Connection } from "../wire/connection.ts";
import {
  errorFromCode,
  LoginError,
  MprpcError,
  ProtocolException,
  RpcUnavailableException,
  TimeoutException,
} from "../protocol/errors.ts";
import { ItemStream } from "../call/item_stream.ts";
import { withRemoteMethods } from "./remote_proxy.ts";
import { connect } from "../platform/transport.deno.ts";
import {
  Code,
  type Compression,
  type ErrorData,
  EXTENSIONS,
  type HandshakeReply,
  isMap,
  type Message,
  VERSION,
} from "../protocol/messages.ts";

/** Options of {@linkcode AsyncRPC}. */
export interface ClientOptions {
  /**
   * Seconds between heartbeat pings. Default: half the `TIMEOUT` the server announces, so an
   * idle connection stays open; `0` sends none.
   */
  heartbeat?: number;
  /** JSON instead of MessagePack; must match the server. Default `false`. */
  debug?: boolean;
  /** Compression; must match the server. Default `null`. */
  compression?: Compression | null;
  /** Seconds a call may wait for its answer before failing with 504. Default: no limit. */
  timeout?: number;
  /** Seconds to connect and authenticate before giving up. Default `10`. */
  connectTimeout?: number;
  /** The most bytes one incoming message may have. Default 64 MiB. */
  maxMessageSize?: number;
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

/** Attribute-style access to remote methods. */
export type Remote = { readonly [name: string]: RemoteMethod };

/** An {@linkcode AsyncRPC} with attribute-style calls typed. */
export type AsyncRPCClient = AsyncRPC & Remote;

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: MprpcError): void;
  timer?: ReturnType<typeof setTimeout>;
  stream?: ItemStream;
}

// `promise`, or `timeout()` if it takes longer than `seconds`. The loser never goes unobserved.
function withTimeout<T>(promise: Promise<T>, seconds: number, timeout: () => Error): Promise<T> {
  promise.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeout()), seconds * 1000);
  });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}

/**
 * The asynchronous MPRPC client. Remote methods are called as attributes through a Proxy; a
 * remote method whose name collides with one of this class's members is reached with
 * {@linkcode AsyncRPC.call}.
 *
 * @example
 * ```ts ignore
 * import { AsyncRPC } from "./async_rpc.ts";
 * await using rpc = await AsyncRPC.connect("tcp://admin:admin@127.0.0.1:5000");
 * console.log(await rpc.system.listMethods());
 * console.log(await rpc.testfunc(5, 4)); // 9
 * for await (const item of await rpc.testcorogen(1, 2)) console.log(item);
 * ```
 */
export class AsyncRPC implements AsyncDisposable {
  readonly #address: ReturnType<typeof parseAddress>;
  readonly #options: ClientOptions;
  readonly #pending = new Map<string, PendingCall>();
  #conn?: Connection;
  #reading?: Promise<void>;
  #heartbeat?: ReturnType<typeof setInterval>;
  #closeReason?: MprpcError;
  #remoteInfo?: HandshakeReply;
  #codec?: Promise<Codec>;
  #closed = deferred<MprpcError>();
  readonly #proxy: this;

  /** Creates a client for `url` (`tcp://user:pass@host:port`); call {@linkcode AsyncRPC.connect} next. */
  constructor(url: string, options: ClientOptions = {}) {
    this.#address = parseAddress(url);
    this.#options = options;
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
    return this.#remoteInfo;
  }

  /**
   * Resolves when the current connection ends, with the error its calls failed with (for
   * example a `TimeoutException` after the server's idle timeout).
   */
  get closed(): Promise<MprpcError> {
    return this.#closed.promise;
  }

  /** Whether the connection is open. */
  get connected(): boolean {
    return this.#conn?.open ?? false;
  }

  /** Connects and authenticates; rejects with `LoginError` if the server refuses. */
  async connect(): Promise<this> {
    if (this.connected) return this.#proxy;
    const { hostname, port } = this.#address;
    const seconds = this.#options.connectTimeout ?? 10;
    const socket = connect({ hostname, port });
    let conn: Connection | undefined;
    try {
      const opening = (async () => {
        this.#codec ??= Codec.create({
          debug: this.#options.debug,
          compression: this.#options.compression,
          maxMessageSize: this.#options.maxMessageSize,
        });
        conn = new Connection(await socket, await this.#codec, {
          maxMessageSize: this.#options.maxMessageSize,
        });
        return await this.#handshake(conn);
      })();
      const [info, reader, early] = await withTimeout(
        opening,
        seconds,
        () => new TimeoutException(`no handshake from ${hostname}:${port} within ${seconds} s`),
      );
      this.#conn = conn!;
      this.#remoteInfo = info;
      this.#closeReason = undefined;
      this.#closed = deferred();
      this.#reading = this.#read(reader, early);
      this.#startHeartbeat();
      return this.#proxy;
    } catch (err) {
      if (conn) conn.abort();
      else socket.then((s) => s.close(), () => {});
      if (err instanceof MprpcError) throw err;
      throw new RpcUnavailableException(`could not connect to ${hostname}:${port}: ${err}`, {
        cause: err,
      });
    }
  }

  // Sends AUTH and reads the reply. Resolves to the reply, the reader to go on with, and any
  // messages that arrived in the same read as the reply.
  async #handshake(
    conn: Connection,
  ): Promise<[HandshakeReply, ReadableStreamDefaultReader<unknown[]>, unknown[]]> {
    const { username, password } = this.#address;
    const reader = conn.messages.getReader();
    // pymprpc ignores EXT and answers without it: the connection then stays plain MPRPC 0.1.
    await conn.send({
      MPRPC: VERSION,
      AUTH: { USERNAME: username, PASSWORD: password, EXT: [...EXTENSIONS] },
    });
    let reply: unknown;
    let early: unknown[] = [];
    try {
      [reply, ...early] = (await reader.read()).value ?? [];
    } catch (cause) {
      throw new ProtocolException(
        "could not decode the server's handshake reply: do the debug and compression options match the server's?",
        { cause },
      );
    }
    if (!isMap(reply)) {
      throw new RpcUnavailableException("the server closed the connection during the handshake");
    }
    if (reply.CODE === Code.LOGIN_ERROR) throw new LoginError("the server refused the credentials");
    if (reply.CODE !== Code.HANDSHAKE) {
      throw errorFromCode(
        Number(reply.CODE),
        `unexpected handshake reply ${JSON.stringify(reply)}`,
      );
    }
    if (Array.isArray(reply.EXT) && reply.EXT.includes("len32")) conn.useLength32();
    return [reply as unknown as HandshakeReply, reader, early];
  }

  /**
   * Calls `method` with positional `args` and named `kwargs`. Resolves to its result, or to an
   * `AsyncIterable` of the items of a streamed result (`break` out of it to stop reading).
   */
  // deno-lint-ignore no-explicit-any
  async call<T = any>(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<T> {
    const conn = this.#connection();
    const id = crypto.randomUUID();
    const answer = new Promise<unknown>((resolve, reject) => {
      const pending: PendingCall = { resolve, reject };
      const timeout = this.#options.timeout;
      if (timeout) {
        pending.timer = setTimeout(() => {
          this.#pending.delete(id);
          reject(new TimeoutException(`'${method}' did not answer within ${timeout} s`, { id }));
        }, timeout * 1000);
      }
      this.#pending.set(id, pending);
    });
    try {
      await conn.send(this.#request(id, method, true, args, kwargs));
    } catch (err) {
      clearTimeout(this.#pending.get(id)?.timer);
      this.#pending.delete(id);
      throw err;
    }
    return await answer as T;
  }

  /**
   * Calls `method` without waiting for its outcome (`RETURN: false`); resolves to the call's ID
   * once sent. Fetch the outcome later with `rpc.system.getresult(id)`.
   */
  async delay(
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
  ): Promise<string> {
    const id = crypto.randomUUID();
    await this.#connection().send(this.#request(id, method, false, args, kwargs));
    return id;
  }

  /** Closes the connection and reconnects. */
  async reconnect(): Promise<this> {
    await this.close();
    return await this.connect();
  }

  /** Closes the connection; calls still waiting fail with `RpcUnavailableException`. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    this.#closeReason ??= new RpcUnavailableException("the client closed the connection");
    await this.#conn?.close();
    await this.#reading;
  }

  /** Closes the client: `await using rpc = await AsyncRPC.connect(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #connection(): Connection {
    if (this.#conn?.open) return this.#conn;
    throw this.#closeReason ?? new RpcUnavailableException("not connected: call connect() first");
  }

  #request(
    id: string,
    method: string,
    wantsReturn: boolean,
    args: unknown[],
    kwargs: Record<string, unknown>,
  ) {
    if (typeof method !== "string") throw new TypeError("the method name must be a string");
    const message: Message = {
      MPRPC: VERSION,
      ID: id,
      METHOD: method,
      RETURN: wantsReturn,
      ARGS: args,
    };
    if (Object.keys(kwargs).length > 0) message.KWARGS = kwargs;
    return message;
  }

  #startHeartbeat(): void {
    const announced = Number(this.#remoteInfo?.TIMEOUT) || 0;
    const seconds = this.#options.heartbeat ?? announced / 2;
    if (seconds <= 0) return;
    this.#heartbeat = setInterval(() => {
      // A failed ping means the connection is gone; the read loop reports that.
      Promise.resolve().then(() => this.#conn?.send({ MPRPC: VERSION, HEARTBEAT: "ping" })).catch(
        () => {},
      );
    }, seconds * 1000);
  }

  async #read(reader: ReadableStreamDefaultReader<unknown[]>, early: unknown[]): Promise<void> {
    try {
      for (const message of early) this.#receive(message);
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        for (const message of r.value) this.#receive(message);
      }
    } catch (err) {
      this.#closeReason ??= err instanceof MprpcError
        ? err
        : new RpcUnavailableException(`connection failed: ${err}`, { cause: err });
    } finally {
      clearInterval(this.#heartbeat);
      this.#conn?.abort();
      const reason = this.#closeReason ??= new RpcUnavailableException(
        "the server closed the connection",
      );
      for (const pending of this.#pending.values()) this.#settleWithError(pending, reason);
      this.#pending.clear();
      this.#closed.resolve(reason);
    }
  }

  #receive(message: unknown): void {
    if (!isMap(message) || message.MPRPC !== VERSION) {
      this.#closeReason = new ProtocolException(
        `not an MPRPC ${VERSION} message: ${JSON.stringify(message)}`,
      );
      return this.#conn?.abort();
    }
    const code = Number(message.CODE);
    const body = message.MESSAGE;
    if (!isMap(body)) {
      // Connection-level: a pong, or the reason the server is about to close the connection.
      if (code >= 500) {
        this.#closeReason = errorFromCode(code, `the server closed the connection (${code})`);
      }
      return;
    }
    const id = String(body.ID);
    const pending = this.#pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    if (code >= 300 && code !== Code.EXPIRE_WARNING && code !== Code.EXPIRE_STREAM_WARNING) {
      this.#pending.delete(id);
      const error = errorFromCode(code, String(body.MESSAGE ?? ""), {
        id,
        exception: typeof body.EXCEPTION === "string" ? body.EXCEPTION : undefined,
        data: isMap(body.DATA) ? body.DATA as unknown as ErrorData : undefined,
      });
      return this.#settleWithError(pending, error);
    }
    switch (code) {
      case Code.RESULT:
      case Code.EXPIRE_WARNING:
        this.#pending.delete(id);
        return pending.resolve(body.RESULT);
      case Code.STREAM_OPEN:
      case Code.EXPIRE_STREAM_WARNING:
        // Without a cancel extension the server keeps sending after the reader cancels;
        // the ItemStream drops those items until the end.
        pending.stream = new ItemStream();
        return pending.resolve(pending.stream);
      case Code.STREAM_ITEM:
        return pending.stream?.push(body.RESULT);
      case Code.STREAM_END:
        this.#pending.delete(id);
        return pending.stream?.end();
    }
  }

  #settleWithError(pending: PendingCall, error: MprpcError): void {
    clearTimeout(pending.timer);
    if (!pending.stream) return pending.reject(error);
    pending.stream.fail(error);
  }
}
