/**
 * The client's side of one connection: the socket, its reader, the calls waiting on it and the
 * heartbeat timer. A session owns all of them and releases all of them when the connection ends,
 * whichever side ends it; `AsyncRPC` replaces a session whole on reconnect.
 *
 * @module
 */
import { CallState } from "../call/call_state.ts";
import {
  ConnectionLostError,
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
  DIRECT,
  type ErrorData,
  EXTENSIONS,
  type HandshakeReply,
  isMap,
  type Message,
  VERSION,
} from "../protocol/messages.ts";
import type { HostPort, ServerAddress } from "../protocol/address.ts";
import type { TlsClientOptions } from "../platform/transport.ts";
import { connect } from "../platform/transport.deno.ts";
import { type Codec, DecodedAnswer } from "../wire/codec.ts";
import { creditCharge, type TraceCarrier } from "../protocol/call_message.ts";
import { MAX_TIMER_DELAY, timer } from "../util/timers.ts";
import type { MessageBatch } from "../wire/codec.ts";
import { Connection } from "../wire/connection.ts";
import { type Deferred, deferred } from "../util/deferred.ts";
import { Wakeup } from "../util/wakeup.ts";
import type { ItemStream } from "../call/item_stream.ts";
import { optionNames } from "../util/options.ts";
import { CallTable } from "./call_table.ts";
import { CallIds } from "../wire/call_ids.ts";

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
  /**
   * Seconds to connect and authenticate (through a broker, each broker's answer too) before
   * giving up; also the longest a call waits for a lost connection to come back. @default {10}
   */
  connectTimeout?: number;
  /**
   * Reconnect when the connection is lost (through the brokers again, for a `broker://`
   * address): at once, then after exponential backoff with jitter between `minDelay` and
   * `maxDelay` seconds, until it succeeds or the client is closed. After connections that keep
   * dying young (within `maxDelay`), even the first attempt backs off. `false` turns it off.
   * @default {true} (`{ minDelay: 0.1, maxDelay: 5 }`)
   */
  reconnect?: boolean | ReconnectOptions;
  /** The most bytes one incoming message may have. @default {67108864} (64 MiB) */
  maxMessageSize?: number;
  /**
   * The bytes of unread items one stream may hold, counted on the wire (each item at least 64
   * bytes). With a server that accepted the `credit` extension (mprpc), the server sends no more
   * than that ahead of the reader; with one that did not (pymprpc), the client stops reading the
   * connection, holding back its other calls too, until the reader has taken half of them.
   * @default {4194304} (4 MiB)
   */
  streamBuffer?: number;
  /**
   * What a `tls://` (or `broker+tls://`) connection trusts and presents, PEM text: `ca`, the CA
   * that signed the server's certificate (default: the system's roots), and `cert`/`key` for a
   * server that asks for a client certificate. The server's name is checked against its
   * certificate. Default: `{}`.
   */
  tls?: TlsClientOptions;
  /**
   * A span per call through the OpenTelemetry API (`@opentelemetry/api`; a no-op until the
   * application registers an SDK), a child of the span active where the call is made; its trace
   * context goes with the call to a server that accepted the `trace` extension (mprpc), never to
   * one that did not (pymprpc). `AsyncRPC` only: `RPC`'s calls run in a worker, outside the
   * application's tracer, and it refuses the option. See README, "Tracing".
   * @default {false}
   */
  tracing?: boolean;
}

/** How {@linkcode ClientOptions.reconnect} waits between attempts. */
export interface ReconnectOptions {
  /**
   * Seconds before the second attempt, each later one doubling it, up to `maxDelay`; each delay
   * is then drawn from its upper half (jitter). Above 0. @default {0.1}
   */
  minDelay?: number;
  /** The most seconds between attempts; at least `minDelay`. @default {5} */
  maxDelay?: number;
}

/** Options of one call; they override the client's. */
export interface CallOptions {
  /** Aborting it fails the call with the signal's reason and cancels it on the server. */
  signal?: AbortSignal;
  /**
   * Seconds the whole call may take, a stream until its end: past it, `TimeoutException` (504)
   * and the call is cancelled; a server that accepted `deadline` is told, and stops it too.
   * Default: the client's `timeout`.
   */
  timeout?: number;
}

/** The names of {@linkcode CallOptions}, for checking options at run time. */
export const CALL_OPTIONS = optionNames<CallOptions>({ signal: true, timeout: true });

/** The names of {@linkcode ReconnectOptions}, for checking options at run time. */
export const RECONNECT_OPTIONS = optionNames<ReconnectOptions>({ minDelay: true, maxDelay: true });

/** The names of {@linkcode ClientOptions}, for checking options at run time. */
export const CLIENT_OPTIONS = optionNames<ClientOptions>({
  heartbeat: true,
  debug: true,
  compression: true,
  timeout: true,
  connectTimeout: true,
  reconnect: true,
  maxMessageSize: true,
  streamBuffer: true,
  tls: true,
  tracing: true,
});

// A stream's credit, as the client keeps it: the bytes it let the server send, and what came.
interface Credit {
  granted: number;
  received: number;
}

// A call waiting for its answer (`RETURN: true`): its outcome (the CallState it is, one object
// per call rather than two), and what it holds until then.
class Pending extends CallState {
  timer?: ReturnType<typeof setTimeout> = undefined;
  // Stops listening to the call's AbortSignal.
  unlisten?: () => void = undefined;
  stream?: ItemStream = undefined;
  credit?: Credit = undefined;

  // `key`: the key of `#pending`, the call's number on the connection (its ID: `#ids.id(key)`).
  // The caller gets `result` itself, at once: it needs no guard against going unobserved.
  constructor(readonly key: number) {
    super(true);
  }
}

// `promise`, or `timeout()` if it takes longer than `seconds`. The loser never goes unobserved.
function withTimeout<T>(promise: Promise<T>, seconds: number, timeout: () => Error): Promise<T> {
  promise.catch(() => {});
  let handle: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    handle = timer(() => reject(timeout()), seconds * 1000);
  });
  return Promise.race([promise, expiry]).finally(() => clearTimeout(handle));
}

// What went wrong in a TLS handshake, in words that say what to do; node:tls's codes.
function tlsFailure(err: unknown): string {
  const code = (err as { code?: string })?.code ?? "";
  const reason: Record<string, string> = {
    DEPTH_ZERO_SELF_SIGNED_CERT: "its certificate is self-signed: pass its CA as tls.ca",
    SELF_SIGNED_CERT_IN_CHAIN: "its certificate is signed by an unknown CA: pass it as tls.ca",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      "its certificate is signed by an unknown CA: pass it as tls.ca",
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      "its certificate is signed by an unknown CA: pass it as tls.ca",
    CERT_HAS_EXPIRED: "its certificate has expired",
    ERR_TLS_CERT_ALTNAME_INVALID: "its certificate is not for this host name",
    ECONNRESET: "it closed the connection during the TLS handshake (a plaintext server?)",
  };
  return `TLS: ${reason[code] ?? "the handshake failed (a plaintext server?)"} (${err})`;
}

/**
 * Connects to `address` and runs `talk` on the connection (a handshake, a question to a broker),
 * all within `connectTimeout`. Rejects with `talk`'s `MprpcError`, a `TimeoutException` if it
 * takes too long, or `RpcUnavailableException` if the peer cannot be reached; the socket is
 * released on every failure.
 */
export async function dial<T>(
  address: HostPort & { tls?: boolean },
  options: ClientOptions,
  codec: Codec,
  talk: (conn: Connection) => Promise<T>,
  callIds?: CallIds,
): Promise<[Connection, T]> {
  const { hostname, port } = address;
  const seconds = options.connectTimeout ?? 10;
  const tls = address.tls ? options.tls ?? {} : undefined;
  const socket = connect({ hostname, port, tls });
  let conn: Connection | undefined;
  try {
    const talking = socket.then((s) => {
      conn = new Connection(s, codec, { maxMessageSize: options.maxMessageSize, callIds });
      return talk(conn);
    });
    const value = await withTimeout(
      talking,
      seconds,
      () => new TimeoutException(`no answer from ${hostname}:${port} within ${seconds} s`),
    );
    return [conn!, value];
  } catch (err) {
    if (conn) conn.abort();
    else socket.then((s) => s.close(), () => {});
    if (err instanceof MprpcError) throw err;
    const why = tls ? tlsFailure(err) : String(err);
    throw new RpcUnavailableException(`could not connect to ${hostname}:${port}: ${why}`, {
      cause: err,
    });
  }
}

/** One authenticated connection to a server and the calls in flight on it. */
export class ClientSession {
  /** The server's handshake reply. */
  readonly info: HandshakeReply;
  /** Resolves when the connection has ended, with the error its calls failed with. */
  readonly closed: Promise<MprpcError>;
  /** The server's `host:port`, as dialed. */
  readonly remoteAddress: string;

  readonly #conn: Connection;
  readonly #options: ClientOptions;
  // Calls waiting for their answers, by number (a number is cheaper to look up than an ID).
  readonly #pending = new CallTable<Pending>();
  readonly #reading: Promise<void>;
  readonly #extensions: ReadonlySet<string>;
  // Whether the server accepted `deadline`, `credit` and `trace`: looked up once, not per call.
  readonly #deadline: boolean;
  readonly #credit: boolean;
  readonly #trace: boolean;
  // streamBuffer: the bytes of unread items one stream may hold.
  readonly #buffer: number;
  // Settled when a reader takes items, for a read loop paused by a full stream.
  readonly #taken = new Wakeup();
  #heartbeat?: ReturnType<typeof setInterval>;
  #closeReason?: MprpcError;
  // How many calls' answers are open streams: without any, no stream can be full.
  #streams = 0;
  // When the last bytes came from the server, and whether the read loop holds off on purpose.
  #lastRead = Date.now();
  #paused = false;
  // The IDs of calls that are answered: a random prefix per session, then the call's number.
  // (A `RETURN: false` call keeps a UUID: `system.getresult` hands its outcome to whoever
  // presents the ID, on any connection.)
  readonly #ids: CallIds;
  #calls = 0;
  // Pings sent (heartbeats too) and pongs received: a pong has no ID, but a server answers pings
  // in order, so the nth pong answers the nth ping. ping() calls wait here for theirs, in order.
  #pingsSent = 0;
  #pongs = 0;
  #pingWaiters: { ping: number; pong: Deferred<void> }[] = [];

  private constructor(
    address: HostPort,
    conn: Connection,
    ids: CallIds,
    info: HandshakeReply,
    options: ClientOptions,
    reader: ReadableStreamDefaultReader<MessageBatch>,
    early: MessageBatch,
  ) {
    this.#conn = conn;
    this.#ids = ids;
    this.info = info;
    const { hostname, port } = address;
    this.remoteAddress = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    this.#options = options;
    this.#extensions = new Set(info.EXT ?? []);
    this.#deadline = this.#extensions.has("deadline");
    this.#credit = this.#extensions.has("credit");
    this.#trace = this.#extensions.has("trace");
    this.#buffer = options.streamBuffer ?? 4 * 1024 * 1024;
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
    const ids = new CallIds(`${crypto.randomUUID().slice(0, 8)}.`);
    const [conn, [info, reader, early]] = await dial(
      address,
      options,
      codec,
      (conn) => handshake(conn, address),
      ids,
    );
    return new ClientSession(address, conn, ids, info, options, reader, early);
  }

  /** Whether calls can still be sent. */
  get open(): boolean {
    return this.#conn.open;
  }

  /** Why the connection ended, once it has. */
  get closeReason(): MprpcError | undefined {
    return this.#closeReason;
  }

  /**
   * Sends a call and resolves to its value, or to the `ItemStream` of its items. Never throws:
   * whatever goes wrong rejects the promise. `trace`: the caller's trace context, sent if the
   * server accepted the `trace` extension.
   */
  call(
    method: string,
    args: unknown[],
    kwargs: Record<string, unknown>,
    options?: CallOptions,
    trace?: TraceCarrier,
  ): Promise<unknown> {
    let key: number | undefined;
    try {
      const signal = options?.signal;
      signal?.throwIfAborted();
      if (typeof method !== "string") throw new TypeError("the method name must be a string");
      key = this.#calls++;
      const pending = new Pending(key);
      let deadline: number | undefined;
      const timeout = options?.timeout ?? this.#options.timeout;
      // A timeout longer than a timer can wait (about 24.8 days) is no timeout.
      if (timeout && timeout * 1000 <= MAX_TIMER_DELAY) {
        if (this.#deadline) deadline = timeout * 1000;
        pending.timer = this.#startTimer(pending, method, timeout);
      }
      if (signal) pending.unlisten = this.#listen(key, signal);
      let credit: number | undefined;
      if (this.#credit) {
        credit = this.#buffer;
        pending.credit = { granted: credit, received: 0 };
      }
      this.#pending.set(key, pending);
      // Sent synchronously, unless compressing or too much is queued.
      const sent = this.#conn.sendCall({
        key,
        method,
        args,
        kwargs,
        deadline,
        credit,
        trace: this.#trace ? trace : undefined,
      });
      if (sent === undefined) return pending.result;
      return this.#afterSend(key, sent, pending);
    } catch (err) {
      if (key !== undefined) this.#forget(key);
      return Promise.reject(err);
    }
  }

  async #afterSend(key: number, sent: Promise<void>, state: CallState): Promise<unknown> {
    // Observed from here on: a call failed while its send is still pending is not unhandled.
    state.result.catch(() => {});
    try {
      await sent;
    } catch (err) {
      this.#forget(key);
      throw err;
    }
    return await state.result;
  }

  #startTimer(pending: Pending, method: string, timeout: number): ReturnType<typeof setTimeout> {
    const { key } = pending;
    return setTimeout(() => {
      const id = this.#ids.id(key);
      const late = new TimeoutException(`'${method}' did not finish within ${timeout} s`, { id });
      this.#giveUp(key, late);
    }, timeout * 1000);
  }

  #listen(key: number, signal: AbortSignal): () => void {
    const onAbort = () => this.#giveUp(key, signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    return () => signal.removeEventListener("abort", onAbort);
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
    const closing = this.#conn.close();
    this.#wakeReadLoop(); // a read loop paused for a full stream must see the close
    await closing;
    await this.#reading;
  }

  #startHeartbeat(): void {
    const announced = Number(this.info.TIMEOUT) || 0;
    const seconds = this.#options.heartbeat ?? announced / 2;
    // An interval past a timer's range would fire continuously: it is no heartbeat at all.
    if (seconds <= 0 || seconds * 1000 > MAX_TIMER_DELAY) return;
    this.#heartbeat = setInterval(() => {
      // Two pings unanswered: the server or the path to it is gone without a word (a machine
      // that vanished sends no reset). Its calls would otherwise wait for ever.
      if (!this.#paused && Date.now() - this.#lastRead > 2 * seconds * 1000) {
        this.#closeReason ??= new ConnectionLostError(
          `no answer from ${this.remoteAddress} to two heartbeats; calls in flight may or may not have run`,
        );
        return this.#conn.abort();
      }
      // A failed ping means the connection is gone; the read loop reports that.
      Promise.resolve().then(() => this.#sendPing()).catch(() => {});
    }, seconds * 1000);
  }

  // Owns the end of the connection: however it ends, the timer stops, the socket is released
  // and every waiting call fails with the reason.
  async #read(
    reader: ReadableStreamDefaultReader<MessageBatch>,
    early: MessageBatch,
  ): Promise<void> {
    try {
      for (let batch = early;;) {
        const { messages, sizes } = batch;
        for (let i = 0; i < messages.length; i++) this.#receive(messages[i], sizes[i]);
        const full = this.#fullStream();
        if (full !== undefined) {
          this.#paused = true;
          await this.#untilTaken(full);
          this.#paused = false;
          this.#lastRead = Date.now();
        }
        const r = await reader.read();
        if (r.done) break;
        this.#lastRead = Date.now();
        batch = r.value;
      }
    } catch (err) {
      this.#closeReason ??= err instanceof MprpcError ? err : new ConnectionLostError(
        `the connection to ${this.remoteAddress} failed (${err}); calls in flight may or may not have run`,
        { cause: err },
      );
    } finally {
      clearInterval(this.#heartbeat);
      this.#conn.abort();
      const reason = this.#closeReason ??= new ConnectionLostError(
        `the connection to ${this.remoteAddress} was lost; calls in flight may or may not have run`,
      );
      for (const pending of this.#pending.values()) {
        this.#drop(pending);
        pending.fail(reason);
      }
      for (const { pong } of this.#pingWaiters.splice(0)) pong.reject(reason);
    }
  }

  #receive(message: unknown, size: number): void {
    if (message instanceof DecodedAnswer) {
      // An answer to one of this session's calls, read straight from its bytes.
      const pending = this.#pending.get(message.key);
      if (pending) this.#settle(pending, message.code, message.result, size);
      return;
    }
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
      if (code === Code.PONG) this.#ponged();
      else if (code >= 500) {
        this.#closeReason = errorFromCode(code, `the server closed the connection (${code})`);
      }
      return;
    }
    // `ID` must be exactly one of this session's IDs, of a call still waiting.
    const pending = this.#pending.get(this.#ids.keyOf(body.ID));
    if (pending) this.#settle(pending, code, body.RESULT, size, body);
  }

  // Call `pending` answered `code`: `result`, or for an error the answer's `body`.
  #settle(pending: Pending, code: number, result: unknown, size: number, body?: Message): void {
    const { key } = pending;
    if (code >= 300 && code !== Code.EXPIRE_WARNING && code !== Code.EXPIRE_STREAM_WARNING) {
      this.#drop(pending);
      pending.fail(errorFromCode(code, String(body?.MESSAGE ?? ""), {
        id: this.#ids.id(key),
        exception: typeof body?.EXCEPTION === "string" ? body.EXCEPTION : undefined,
        data: isMap(body?.DATA) ? body.DATA as unknown as ErrorData : undefined,
      }));
      return;
    }
    switch (code) {
      case Code.RESULT:
      case Code.EXPIRE_WARNING:
        this.#drop(pending);
        pending.value(result);
        return;
      case Code.STREAM_OPEN:
      case Code.EXPIRE_STREAM_WARNING: {
        const stream = pending.open(() => this.#giveUp(key), () => this.#took(pending));
        if (stream) {
          pending.stream = stream;
          this.#streams++;
        }
        return;
      }
      case Code.STREAM_ITEM: {
        // Counted as the server counts it; tiny items count MIN_ITEM_CHARGE, so that a buffer
        // of bytes also bounds how many items it holds.
        const charge = creditCharge(size);
        if (pending.credit) pending.credit.received += charge;
        pending.item(result, charge);
        return;
      }
      case Code.STREAM_END:
        this.#drop(pending);
        pending.end();
        return;
    }
  }

  // The caller no longer waits for call `key` (timeout, abort, a stream left early): it fails
  // with `reason` if still pending, and the server is told to stop it if it can be.
  #giveUp(key: number, reason?: unknown): void {
    const pending = this.#pending.get(key);
    if (!pending) return;
    this.#drop(pending);
    if (reason !== undefined) pending.fail(reason);
    if (!this.#extensions.has("cancel") || !this.#conn.open) return;
    const id = this.#ids.id(key);
    // A failed send means the connection is gone; the read loop reports that.
    Promise.resolve().then(() => this.#conn.send({ MPRPC: VERSION, CANCEL: id })).catch(() => {});
  }

  // Releases what call `key` holds: its timer, its signal listener, its entry.
  #forget(key: number): void {
    const pending = this.#pending.get(key);
    if (pending) this.#drop(pending);
  }

  // #forget for `pending`.
  #drop(pending: Pending): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.unlisten?.();
    if (this.#pending.delete(pending.key) && pending.stream) this.#streams--;
    this.#wakeReadLoop();
  }

  // The reader took an item of `pending`'s stream: wake a read loop waiting for room, and grant
  // the server what is free again of the stream's buffer (credit), at least half of it at once.
  #took(pending: Pending): void {
    this.#wakeReadLoop();
    const { key, credit, stream } = pending;
    if (!credit || !stream || !this.#pending.has(key) || !this.#conn.open) return;
    const held = credit.granted - credit.received + stream.bufferedBytes;
    const BYTES = this.#buffer - held;
    if (BYTES < this.#buffer / 2) return;
    credit.granted += BYTES;
    const id = this.#ids.id(key);
    Promise.resolve().then(() => this.#conn.send({ MPRPC: VERSION, CREDIT: { ID: id, BYTES } }))
      .catch(() => {});
  }

  // A stream holding a full buffer of unread items: the socket is not read until it has room.
  // Only without credit (pymprpc): with it the server keeps within the buffer, and pausing could
  // deadlock a reader that waits for another call's answer before it takes the next item.
  #fullStream(): number | undefined {
    if (this.#credit || this.#streams === 0) return undefined;
    for (const { key, stream } of this.#pending.values()) {
      if (stream && stream.bufferedBytes >= this.#buffer) return key;
    }
    return undefined;
  }

  // Waits until the reader of call `key` has taken half its buffer, or the call is over.
  async #untilTaken(key: number): Promise<void> {
    while (this.#conn.open) {
      const stream = this.#pending.get(key)?.stream;
      if (!stream || stream.bufferedBytes <= this.#buffer / 2) return;
      await this.#taken.wait();
    }
  }

  #wakeReadLoop(): void {
    this.#taken.wake();
  }

  /**
   * Sends a heartbeat ping; resolves to the milliseconds until its pong came. Rejects if the
   * connection ends first, or with `TimeoutException` past the client's `timeout`.
   */
  async ping(): Promise<number> {
    const started = performance.now();
    const waiter = { ping: 0, pong: deferred<void>() };
    waiter.pong.promise.catch(() => {}); // a failed send below leaves it to the read loop
    const timeout = this.#options.timeout;
    const expiry = timeout
      ? timer(() => {
        this.#pingWaiters = this.#pingWaiters.filter((w) => w !== waiter);
        waiter.pong.reject(new TimeoutException(`no pong within ${timeout} s`));
      }, timeout * 1000)
      : undefined;
    try {
      if (!this.#conn.open) throw this.#closeReason ?? new RpcUnavailableException("closed");
      waiter.ping = this.#pingsSent + 1;
      this.#pingWaiters.push(waiter);
      await this.#sendPing();
      await waiter.pong.promise;
      return performance.now() - started;
    } finally {
      clearTimeout(expiry);
    }
  }

  // Sends a ping, counted as sent just before it is queued, in the order pings go out.
  #sendPing(): Promise<void> | undefined {
    this.#pingsSent++;
    return this.#conn.send({ MPRPC: VERSION, HEARTBEAT: "ping" });
  }

  // A pong came: it answers ping number #pongs, and every ping() waiting for that one or an
  // earlier one (whose pong was lost, which a server that follows the protocol never does).
  #ponged(): void {
    const pongs = ++this.#pongs;
    while (this.#pingWaiters.length > 0 && this.#pingWaiters[0].ping <= pongs) {
      this.#pingWaiters.shift()!.pong.resolve();
    }
  }
}

// Sends AUTH and reads the reply. Resolves to the reply, the reader to go on with, and any
// messages that arrived in the same read as the reply.
async function handshake(
  conn: Connection,
  address: ServerAddress,
): Promise<[HandshakeReply, ReadableStreamDefaultReader<MessageBatch>, MessageBatch]> {
  const reader = conn.messages.getReader();
  // pymprpc ignores EXT and answers without it: the connection then stays plain MPRPC 0.1.
  // `direct` asks a broker to serve this client itself rather than name a server.
  await conn.send({
    MPRPC: VERSION,
    AUTH: { USERNAME: address.username, PASSWORD: address.password, EXT: [...EXTENSIONS, DIRECT] },
  });
  let batch: MessageBatch | undefined;
  try {
    batch = (await reader.read()).value;
  } catch (cause) {
    throw new ProtocolException(
      "could not decode the server's handshake reply: do the debug and compression options match the server's?",
      { cause },
    );
  }
  const reply = batch?.messages[0];
  if (!isMap(reply)) {
    throw new RpcUnavailableException("the server closed the connection during the handshake");
  }
  if (reply.CODE === Code.LOGIN_ERROR) throw new LoginError("the server refused the credentials");
  if (reply.CODE !== Code.HANDSHAKE) {
    throw errorFromCode(Number(reply.CODE), `unexpected handshake reply ${JSON.stringify(reply)}`);
  }
  if (Array.isArray(reply.EXT) && reply.EXT.includes("len32")) conn.useLength32();
  // Whatever came in the same read as the reply is the session's to handle.
  const early = { messages: batch!.messages.slice(1), sizes: batch!.sizes.slice(1) };
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
