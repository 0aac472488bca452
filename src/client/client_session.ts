/**
 * The client's side of one connection: the socket, its reader, the calls waiting on it and the
 * heartbeat timer. A session owns all of them and releases all of them when the connection ends,
 * whichever side ends it; `AsyncRPC` replaces a session whole on reconnect.
 *
 * @module
 */
import { CallState } from "../call/call_state.ts";
import {
  errorFromCode,
  LoginError,
  MprpcError,
  ProtocolException,
  RpcUnavailableException,
  TimeoutException,
} from "../protocol/errors.ts";
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
import type { ServerAddress } from "../protocol/address.ts";
import { connect } from "../platform/transport.deno.ts";
import type { Codec } from "../wire/codec.ts";
import { Connection } from "../wire/connection.ts";
import { deferred } from "../util/deferred.ts";
import { optionNames } from "../util/options.ts";

/** Options of {@linkcode AsyncRPC} and `RPC`. */
export interface ClientOptions {
  /**
   * Seconds between heartbeat pings. Default: half the `TIMEOUT` the server announces, so an
   * idle connection stays open; `0` sends none.
   */
  heartbeat?: number;
  /** JSON instead of MessagePack; must match the server. @default {false} */
  debug?: boolean;
  /** Compression; must match the server. @default {null} */
  compression?: Compression | null;
  /** Seconds a call may wait for its answer before failing with 504. Default: no limit. */
  timeout?: number;
  /** Seconds to connect and authenticate before giving up. @default {10} */
  connectTimeout?: number;
  /** The most bytes one incoming message may have. @default {67108864} (64 MiB) */
  maxMessageSize?: number;
}

/** The names of {@linkcode ClientOptions}, for checking options at run time. */
export const CLIENT_OPTIONS = optionNames<ClientOptions>({
  heartbeat: true,
  debug: true,
  compression: true,
  timeout: true,
  connectTimeout: true,
  maxMessageSize: true,
});

interface Pending {
  state: CallState;
  timer?: ReturnType<typeof setTimeout>;
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

/** One authenticated connection to a server and the calls in flight on it. */
export class ClientSession {
  /** The server's handshake reply. */
  readonly info: HandshakeReply;
  /** Resolves when the connection has ended, with the error its calls failed with. */
  readonly closed: Promise<MprpcError>;

  readonly #conn: Connection;
  readonly #options: ClientOptions;
  readonly #pending = new Map<string, Pending>();
  readonly #reading: Promise<void>;
  #heartbeat?: ReturnType<typeof setInterval>;
  #closeReason?: MprpcError;

  private constructor(
    conn: Connection,
    info: HandshakeReply,
    options: ClientOptions,
    reader: ReadableStreamDefaultReader<unknown[]>,
    early: unknown[],
  ) {
    this.#conn = conn;
    this.info = info;
    this.#options = options;
    const closed = deferred<MprpcError>();
    this.closed = closed.promise;
    this.#startHeartbeat();
    this.#reading = this.#read(reader, early).then(() => closed.resolve(this.#closeReason!));
  }

  /**
   * Connects to `address` and authenticates, within `connectTimeout`. Rejects with `LoginError`
   * if the server refuses, `TimeoutException` if it does not answer in time, and
   * `RpcUnavailableException` if it cannot be reached; the socket is released on every failure.
   */
  static async open(
    address: ServerAddress,
    options: ClientOptions,
    codec: Codec,
  ): Promise<ClientSession> {
    const { hostname, port } = address;
    const seconds = options.connectTimeout ?? 10;
    const socket = connect({ hostname, port });
    let conn: Connection | undefined;
    try {
      const opening = socket.then((s) => {
        conn = new Connection(s, codec, { maxMessageSize: options.maxMessageSize });
        return handshake(conn, address);
      });
      const [info, reader, early] = await withTimeout(
        opening,
        seconds,
        () => new TimeoutException(`no handshake from ${hostname}:${port} within ${seconds} s`),
      );
      return new ClientSession(conn!, info, options, reader, early);
    } catch (err) {
      if (conn) conn.abort();
      else socket.then((s) => s.close(), () => {});
      if (err instanceof MprpcError) throw err;
      throw new RpcUnavailableException(`could not connect to ${hostname}:${port}: ${err}`, {
        cause: err,
      });
    }
  }

  /** Whether calls can still be sent. */
  get open(): boolean {
    return this.#conn.open;
  }

  /** Why the connection ended, once it has. */
  get closeReason(): MprpcError | undefined {
    return this.#closeReason;
  }

  /** Sends a call and resolves to its value, or to the `ItemStream` of its items. */
  async call(method: string, args: unknown[], kwargs: Record<string, unknown>): Promise<unknown> {
    const id = crypto.randomUUID();
    const pending: Pending = { state: new CallState() };
    const timeout = this.#options.timeout;
    if (timeout) {
      pending.timer = setTimeout(() => {
        this.#pending.delete(id);
        pending.state.fail(
          new TimeoutException(`'${method}' did not answer within ${timeout} s`, { id }),
        );
      }, timeout * 1000);
    }
    this.#pending.set(id, pending);
    try {
      await this.#conn.send(request(id, method, true, args, kwargs));
    } catch (err) {
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      throw err;
    }
    return await pending.state.result;
  }

  /** Sends a call with `RETURN: false`; resolves to its ID once sent. */
  async delay(method: string, args: unknown[], kwargs: Record<string, unknown>): Promise<string> {
    const id = crypto.randomUUID();
    await this.#conn.send(request(id, method, false, args, kwargs));
    return id;
  }

  /** Closes the connection after what is queued; calls still waiting fail. */
  async close(): Promise<void> {
    this.#closeReason ??= new RpcUnavailableException("the client closed the connection");
    await this.#conn.close();
    await this.#reading;
  }

  #startHeartbeat(): void {
    const announced = Number(this.info.TIMEOUT) || 0;
    const seconds = this.#options.heartbeat ?? announced / 2;
    if (seconds <= 0) return;
    this.#heartbeat = setInterval(() => {
      // A failed ping means the connection is gone; the read loop reports that.
      Promise.resolve().then(() => this.#conn.send({ MPRPC: VERSION, HEARTBEAT: "ping" }))
        .catch(() => {});
    }, seconds * 1000);
  }

  // Owns the end of the connection: however it ends, the timer stops, the socket is released
  // and every waiting call fails with the reason.
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
      this.#conn.abort();
      const reason = this.#closeReason ??= new RpcUnavailableException(
        "the server closed the connection",
      );
      for (const pending of this.#pending.values()) {
        clearTimeout(pending.timer);
        pending.state.fail(reason);
      }
      this.#pending.clear();
    }
  }

  #receive(message: unknown): void {
    if (!isMap(message) || message.MPRPC !== VERSION) {
      this.#closeReason = new ProtocolException(
        `not an MPRPC ${VERSION} message: ${JSON.stringify(message)}`,
      );
      return this.#conn.abort();
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
    const { state } = pending;
    if (code >= 300 && code !== Code.EXPIRE_WARNING && code !== Code.EXPIRE_STREAM_WARNING) {
      this.#pending.delete(id);
      state.fail(errorFromCode(code, String(body.MESSAGE ?? ""), {
        id,
        exception: typeof body.EXCEPTION === "string" ? body.EXCEPTION : undefined,
        data: isMap(body.DATA) ? body.DATA as unknown as ErrorData : undefined,
      }));
      return;
    }
    switch (code) {
      case Code.RESULT:
      case Code.EXPIRE_WARNING:
        this.#pending.delete(id);
        state.value(body.RESULT);
        return;
      case Code.STREAM_OPEN:
      case Code.EXPIRE_STREAM_WARNING:
        // Without a cancel extension the server keeps sending after the reader cancels;
        // the ItemStream drops those items until the end.
        state.open();
        return;
      case Code.STREAM_ITEM:
        state.item(body.RESULT);
        return;
      case Code.STREAM_END:
        this.#pending.delete(id);
        state.end();
        return;
    }
  }
}

// Sends AUTH and reads the reply. Resolves to the reply, the reader to go on with, and any
// messages that arrived in the same read as the reply.
async function handshake(
  conn: Connection,
  address: ServerAddress,
): Promise<[HandshakeReply, ReadableStreamDefaultReader<unknown[]>, unknown[]]> {
  const reader = conn.messages.getReader();
  // pymprpc ignores EXT and answers without it: the connection then stays plain MPRPC 0.1.
  await conn.send({
    MPRPC: VERSION,
    AUTH: { USERNAME: address.username, PASSWORD: address.password, EXT: [...EXTENSIONS] },
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
    throw errorFromCode(Number(reply.CODE), `unexpected handshake reply ${JSON.stringify(reply)}`);
  }
  if (Array.isArray(reply.EXT) && reply.EXT.includes("len32")) conn.useLength32();
  return [reply as unknown as HandshakeReply, reader, early];
}

function request(
  id: string,
  method: string,
  wantsReturn: boolean,
  args: unknown[],
  kwargs: Record<string, unknown>,
): Message {
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
