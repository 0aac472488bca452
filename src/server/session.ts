/**
 * The server's side of one connection: handshake, heartbeat, idle timeout and calls.
 *
 * @module
 */
import type { Codec } from "../wire/codec.ts";
import { checkCredentials, type Credential } from "./credentials.ts";
import { Connection, type WireBytes } from "../wire/connection.ts";
import {
  errorClassName,
  MprpcError,
  RequestError,
  ResultLimitError,
  RPCRuntimeError,
  RpcUnavailableException,
  TimeoutException,
} from "../protocol/errors.ts";
import type { PeerCertificate, Socket } from "../platform/transport.ts";
import {
  Code,
  type Compression,
  DIRECT,
  type ErrorData,
  EXTENSIONS,
  isMap,
  type Message,
  VERSION,
} from "../protocol/messages.ts";
import { Wakeup } from "../util/wakeup.ts";
import { timer } from "../util/timers.ts";
import type { LogFields, Logger } from "../util/logger.ts";
import type { Answer } from "../call/answer.ts";
import { type CallMessage, readCall, readControl } from "../protocol/call_message.ts";
import type { CallRequest, Dispatcher } from "./dispatcher.ts";
import type { ResultStore } from "./result_store.ts";
import { type CallClient, ServedCall } from "./served_call.ts";
import type { InflightBytes } from "./inflight_bytes.ts";
import type { LoginThrottle } from "./login_throttle.ts";
import type { CallTracer } from "./tracing.ts";

/** The server settings a session follows, all resolved to their defaults. */
export interface SessionSettings {
  auth: readonly Credential[];
  timeout: number;
  debug: boolean;
  compression: Compression | null;
  version: string | null;
  description: string | null;
  maxMessageSize: number;
  handshakeTimeout: number;
  accessLog: boolean;
  maxCallsPerConnection: number;
}

/** What a session shares with its server. */
export interface ServerContext {
  readonly settings: SessionSettings;
  readonly codec: Codec;
  readonly dispatcher: Dispatcher;
  /** Spans of calls, with the `tracing` option. */
  readonly tracer?: CallTracer;
  readonly results: ResultStore;
  readonly logger: Logger;
  /**
   * Aborts when the server stops. A `RETURN: false` call outlives its connection (its outcome
   * may be fetched from another), so its signal is this one, not the connection's.
   */
  readonly stopped: AbortSignal;
  /** Counts a call as started. */
  taskStarted(): void;
  /** The clock of `ServedCall.started`, in milliseconds. */
  now(): number;
  /** Counts a call as finished: its `method`, last `code`, and when it `started`. */
  taskEnded(call: ServedCall): void;
  /** Counts a call answered `code` without being run (refused, or stopped while waiting). */
  callRefused(method: string, code: number): void;
  /** Where connections count the bytes their sockets read and wrote. */
  readonly wireBytes: WireBytes;
  /**
   * Set on a broker: answers an `AUTH` that does not offer the `direct` extension with the
   * server to use (`50`) or a refusal, after which the connection closes.
   */
  readonly redirect?: Redirect;
  /** The server's failed logins per remote address: logins from one that failed recently wait. */
  readonly throttle: LoginThrottle;
  /** The bytes of call messages all sessions hold, against `maxInflightBytes`. */
  readonly inflightBytes: InflightBytes;
}

/**
 * A broker's answer to `AUTH` from a client that wants a server: `{ CODE, … }`. `delay`: the
 * milliseconds the login waited for its turn (failed logins from its address), for the log.
 */
export type Redirect = (
  username: string | null,
  password: string | null,
  peer: string,
  delay: number,
) => Promise<Message>;

// A call the session answers: one being served, or a refused one (then never run).
type Call = CallRequest & {
  code?: number;
  error?: unknown;
  stopped?: boolean;
  started?: number;
};

// The terminator, written so that a 0.1 frame may hold the text.
function scrubTerminator(text: string): string {
  return text.replaceAll("##PRO-END##", "##PRO-END#\\#");
}

// How long a connection being ended (an error, the idle timeout, its peer gone) may take to send
// its last answers: a peer that stopped reading would otherwise hold the session for ever.
const CLOSE_GRACE = 10_000;

// The most bytes one message may have before the client has logged in.
const ANONYMOUS_MESSAGE_SIZE = 64 * 1024;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Serves one connection until either side closes it. */
export class Session {
  /** Resolves when the connection is closed and its timers are cleared. */
  readonly done: Promise<void>;

  readonly #ctx: ServerContext;
  readonly #conn: Connection;
  readonly #inflight = new Map<string, ServedCall>();
  // The extensions the client asked for and the server accepted.
  #extensions: ReadonlySet<string> = new Set();
  // Settled when a call finishes, for a read loop waiting for room.
  readonly #callDone = new Wakeup();
  // Calls that arrived while maxCallsPerConnection were running, in order: they wait for a turn.
  #queued: ServedCall[] = [];
  #startingQueued = false;
  // Streams waiting for a credit grant.
  #awaitingCredit = 0;
  #authenticated = false;
  // Who the calls come from, once logged in: one object for all of them.
  #client?: CallClient;
  readonly #certificate?: PeerCertificate;
  #draining = false;
  #failed = false;
  #timer?: ReturnType<typeof setTimeout>;
  // A login waiting for its turn (failed logins from the same address): a second AUTH gets 506.
  #loginWait?: ReturnType<typeof setTimeout>;
  #waitingForTurn = false;

  /** Starts serving `socket`. */
  constructor(socket: Socket, ctx: ServerContext) {
    this.#ctx = ctx;
    this.#certificate = socket.peerCertificate;
    this.#conn = new Connection(socket, ctx.codec, {
      maxMessageSize: ctx.settings.maxMessageSize,
      bytes: ctx.wireBytes,
    });
    // Until the login passes, a message is an AUTH: a few hundred bytes. A big one from a peer
    // nobody knows yet is refused before it is decoded (MessagePack can grow 64-fold).
    this.#conn.limitMessages(Math.min(ANONYMOUS_MESSAGE_SIZE, ctx.settings.maxMessageSize));
    this.done = this.#run();
  }

  /** Refuses new calls with 503 from now on; running calls go on. */
  drain(): void {
    this.#draining = true;
    // Calls still waiting for a turn will not get one: they are refused as new calls are.
    const closing = new RpcUnavailableException("the server is shutting down");
    for (const call of this.#queued.splice(0)) {
      call.finish();
      this.#forget(call);
      if (call.attached) void this.#sendError(call, closing);
      else void this.#ctx.results.put(call.id, Promise.reject(closing));
    }
    this.#wakeReadLoop();
  }

  /** Closes the connection after sending what is queued. */
  close(): Promise<void> {
    const closing = this.#conn.close();
    this.#wakeReadLoop(); // a read loop paused for room must see the close
    return closing;
  }

  /** Closes the connection at once. */
  abort(): void {
    this.#conn.abort();
    this.#wakeReadLoop();
  }

  async #run(): Promise<void> {
    this.#access("connect", {});
    const handshake = this.#ctx.settings.handshakeTimeout;
    if (handshake > 0) this.#timer = timer(() => this.#conn.abort(), handshake * 1000);
    const reader = this.#conn.messages.getReader();
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        const { messages, sizes } = r.value;
        for (let i = 0; i < messages.length; i++) {
          this.#receive(messages[i], sizes[i]);
          // Checked after each message: one read can hold thousands of calls.
          const full = this.#full();
          if (full) await full;
        }
      }
    } catch (err) {
      const code = err instanceof MprpcError ? err.code : Code.SERVER_ERROR;
      this.#ctx.logger.warn("bad input", this.#fields({ code, error: errorMessage(err) }));
      await this.#fail(code);
    } finally {
      clearTimeout(this.#timer);
      clearTimeout(this.#loginWait);
      // Every call still running learns that its caller is gone.
      const gone = new RpcUnavailableException("the client's connection closed");
      for (const call of [...this.#inflight.values()]) if (call.attached) this.#stop(call, gone);
      await this.#conn.close(CLOSE_GRACE);
      this.#access("close", {});
    }
  }

  // `size`: the message's payload bytes, decompressed.
  #receive(message: unknown, size: number): void {
    if (this.#failed) return;
    if (!isMap(message)) return void this.#sendCode(Code.PROTOCOL_SYNTAX);
    if (message.MPRPC !== VERSION) return void this.#fail(Code.PROTOCOL);
    if ("AUTH" in message) return void this.#handshake(message.AUTH);
    if (!this.#authenticated) return void this.#fail(Code.LOGIN_ERROR);
    if (message.HEARTBEAT === "ping") {
      return void this.#sendCode(Code.PONG, { HEARTBEAT: "pong" });
    }
    if (typeof message.ID === "string") {
      return this.#call(readCall(message, this.#extensions), size);
    }
    const control = readControl(message, this.#extensions);
    if (control && !("refused" in control)) {
      const call = this.#inflight.get(control.id);
      if (control.kind === "credit") return call?.grant(control.bytes);
      // Cancelled: nothing more is sent for it (a RETURN: false call cannot be cancelled).
      if (call?.attached) this.#stop(call, new RpcUnavailableException("the client cancelled"));
      return;
    }
    this.#sendCode(Code.PROTOCOL_SYNTAX);
  }

  // While twice as many calls wait for a turn as may run, or more answers are unsent than the
  // high-water mark, the connection is not read: TCP then pushes back on the client, and a client
  // that never reads its answers costs the server a bounded amount. Other connections go on.
  // Short of that it is read, so that a cancel, a credit grant or the client leaving is seen.
  #full(): Promise<void> | undefined {
    if (!this.#queueFull() && !this.#conn.backlogged) return undefined;
    return (async () => {
      while (this.#conn.open && this.#conn.backlogged) await this.#conn.drained();
      while (this.#conn.open && this.#queueFull()) await this.#callDone.wait();
    })();
  }

  // Twice the running limit may wait: reading goes on meanwhile, so a cancel reaches them.
  #queueFull(): boolean {
    return this.#queued.length >= 2 * this.#ctx.settings.maxCallsPerConnection;
  }

  // Calls running, not counting streams that wait for the client's credit: only a grant moves
  // them on, and it may come only after the client has had other answers.
  #running(): number {
    return this.#inflight.size - this.#queued.length - this.#awaitingCredit;
  }

  // A read loop waiting for room goes on: a call finished, or a stream now waits for credit.
  #wakeReadLoop(): void {
    this.#callDone.wake();
  }

  async #handshake(auth: unknown): Promise<void> {
    if (this.#authenticated || this.#waitingForTurn) {
      return void this.#sendCode(Code.PROTOCOL_SYNTAX);
    }
    const username = isMap(auth) && typeof auth.USERNAME === "string" ? auth.USERNAME : null;
    const password = isMap(auth) && typeof auth.PASSWORD === "string" ? auth.PASSWORD : null;
    // Extensions are answered only when asked for: a pymprpc client never sees EXT.
    const asked = isMap(auth) && Array.isArray(auth.EXT) ? auth.EXT : undefined;
    // Awaited only when the login must wait: otherwise calls sent right behind the AUTH, in the
    // same read, find the connection authenticated.
    const { redirect } = this.#ctx;
    const turn = this.#loginTurn(username, redirect !== undefined && !asked?.includes(DIRECT));
    const delay = turn instanceof Promise ? await turn : turn;
    if (delay === undefined) return;
    const peer = this.#conn.remoteAddress;
    // Counted at once, whichever path answers: a broker's refusal is known only later, when
    // logins from the same address must already wait.
    const passed = isMap(auth) && checkCredentials(this.#ctx.settings.auth, username, password);
    if (!passed) this.#ctx.throttle.failed(peer);
    if (redirect && !asked?.includes(DIRECT)) {
      return this.#redirect(redirect, username, password, delay);
    }
    if (!passed) {
      this.#ctx.logger.warn("login refused", { peer, user: username, delay });
      return void this.#fail(Code.LOGIN_ERROR);
    }
    this.#authenticated = true;
    this.#conn.limitMessages(this.#ctx.settings.maxMessageSize);
    this.#client = {
      peer,
      user: username,
      ...this.#certificate && { certificate: this.#certificate },
    };
    clearTimeout(this.#timer);
    const { version, description, debug, compression, timeout } = this.#ctx.settings;
    const reply: Message = {
      VERSION: version,
      DESC: description,
      DEBUG: debug,
      COMPRESER: compression,
      TIMEOUT: timeout,
    };
    const offered = redirect ? [...EXTENSIONS, DIRECT] : EXTENSIONS;
    const accepted = asked && offered.filter((name) => asked.includes(name));
    if (accepted) reply.EXT = accepted;
    this.#extensions = new Set(accepted);
    if (timeout > 0) this.#armIdleTimer(timeout * 1000);
    await this.#sendCode(Code.HANDSHAKE, reply);
    // The reply itself still ends with the terminator; everything after it is length-prefixed.
    if (accepted?.includes("len32")) this.#conn.useLength32();
  }

  // A broker's answer ends the connection: nothing read after this AUTH is served.
  async #redirect(
    redirect: Redirect,
    username: string | null,
    password: string | null,
    delay: number,
  ) {
    this.#failed = true;
    const { CODE, ...fields } = await redirect(username, password, this.#conn.remoteAddress, delay);
    await this.#sendCode(Number(CODE), fields);
    await this.#conn.close(CLOSE_GRACE);
  }

  // When this connection's login may be checked: at once (0), after a wait (failed logins from
  // its address; resolves to the milliseconds waited, or `undefined` if the connection closed
  // meanwhile), or never (`undefined`: its turn is too far off; it is refused unchecked: 501, or
  // a broker's 51 to a client that asked it for a server).
  #loginTurn(
    username: string | null,
    redirected: boolean,
  ): number | undefined | Promise<number | undefined> {
    const handshake = this.#ctx.settings.handshakeTimeout;
    const peer = this.#conn.remoteAddress;
    const wait = this.#ctx.throttle.turn(
      peer,
      handshake > 0 ? handshake * 1000 : Infinity,
      username,
    );
    if (wait === undefined && redirected) {
      this.#failed = true;
      const MESSAGE = "too many failed logins from this address: try again later";
      void this.#sendCode(Code.BROKER_REFUSED, { MESSAGE }).then(() =>
        this.#conn.close(CLOSE_GRACE)
      );
      return undefined;
    }
    if (wait === undefined) return void this.#fail(Code.LOGIN_ERROR);
    if (wait === 0) return 0;
    this.#waitingForTurn = true;
    return new Promise<number | undefined>((resolve) => {
      this.#loginWait = timer(
        () => resolve(this.#failed || !this.#conn.open ? undefined : wait),
        wait,
      );
    });
  }

  // The idle clock runs from the last write; a connection with calls running is never idle,
  // unless its socket has been writing for `timeout` without a write ending: its peer stopped
  // reading (its calls may be waiting for their answers to be taken: they would never end).
  #armIdleTimer(timeout: number): void {
    const check = () => {
      const idle = Date.now() - this.#conn.lastWrite;
      const busy = this.#inflight.size > 0 && !this.#conn.writing;
      if (busy || idle < timeout) {
        this.#timer = timer(check, busy ? timeout : timeout - idle);
        return;
      }
      this.#access("idle timeout", {});
      this.#fail(Code.TIMEOUT);
    };
    this.#timer = timer(check, timeout);
  }

  #call(message: CallMessage, size: number): void {
    const { id, wantsReturn } = message;
    if (message.problem) return void this.#sendError(message, new RequestError(message.problem));
    if (this.#draining) {
      const closing = new RpcUnavailableException("the server is shutting down");
      return void this.#sendError(message, closing);
    }
    if (!wantsReturn) {
      // First, so that an ID whose outcome is kept is refused as such, running or finished.
      try {
        this.#ctx.results.reserve(id);
      } catch (err) {
        return void this.#sendError(message, err);
      }
    }
    // (Most calls are answered within their start and never listed: no ID to hash then.)
    if (this.#inflight.size > 0 && this.#inflight.has(id)) {
      const running = `a call with ID ${id} is already running on this connection`;
      return void this.#sendError(message, new RequestError(running));
    }
    // Running, waiting for a turn, or for credit: a connection's calls are bounded in all.
    const most = 3 * this.#ctx.settings.maxCallsPerConnection;
    if (this.#inflight.size >= most) {
      const tooMany = `${most} calls are open on this connection: the most allowed`;
      return void this.#sendError(message, new RpcUnavailableException(tooMany));
    }
    const held = this.#ctx.inflightBytes;
    if (!held.take(size)) {
      const busy = `the server holds ${held.held} bytes of calls: this one's ${size} would pass ` +
        `maxInflightBytes (${held.max})`;
      return void this.#sendError(message, new RpcUnavailableException(busy));
    }
    // A RETURN: false call outlives its connection (another may fetch its outcome): it stops
    // when the server stops, and has no deadline (no one waits for it).
    const outer = wantsReturn ? undefined : this.#ctx.stopped;
    const call = new ServedCall(message, this.#client!, outer);
    call.inputBytes = size;
    if (call.deadline !== undefined) call.expireAt(call.deadline, () => this.#expire(call));
    if (this.#running() >= this.#ctx.settings.maxCallsPerConnection) {
      this.#list(call);
      this.#queued.push(call);
      return;
    }
    this.#start(call);
    // A call answered within its start (a synchronous handler) is over already: it is never
    // listed. Listing is a Map insert and delete keyed by a fresh string: measured, 0.2 of the
    // 2.4 us of server CPU a pipelined add(1, 2) took.
    if (call.listed === undefined) this.#list(call);
  }

  #list(call: ServedCall): void {
    call.listed = true;
    this.#inflight.set(call.id, call);
  }

  #start(call: ServedCall): void {
    this.#ctx.taskStarted();
    call.started = this.#ctx.now();
    const tracer = this.#ctx.tracer;
    if (tracer) tracer.run(call, () => this.#dispatch(call));
    else this.#dispatch(call);
  }

  #dispatch(call: ServedCall): void {
    this.#ctx.dispatcher.dispatch(call, call, this.#respond);
  }

  // Every call's answer: sent, or kept for system.getresult. One function for all calls (this
  // runs per call: no closure per call).
  readonly #respond = (call: ServedCall, answer: Answer | Promise<Answer>): void => {
    if (!call.attached) {
      return void this.#ctx.results.put(call.id, Promise.resolve(answer)).then(() =>
        this.#done(call)
      );
    }
    if (!(answer instanceof Promise) && "value" in answer) {
      const sent = this.#sendAnswer(call, Code.RESULT, answer.value);
      return typeof sent === "boolean"
        ? this.#done(call)
        : void sent.finally(() => this.#done(call));
    }
    this.#reply(call, answer).catch((err) =>
      this.#ctx.logger.error(
        "internal error",
        this.#fields({ id: call.id, error: errorMessage(err) }),
      )
    ).finally(() => this.#done(call));
  };

  // The deadline passed: the call is stopped and answered with 504, its last message.
  #expire(call: ServedCall): void {
    const expired = new TimeoutException(
      `'${call.method}' did not finish before its deadline`,
      { exception: "DeadlineExceeded" },
    );
    this.#stop(call, expired);
    this.#writeError(call, expired);
  }

  // Stops a call (cancel, deadline, the connection closing). One still waiting for its turn
  // never runs: it leaves at once.
  #stop(call: ServedCall, reason: unknown): void {
    call.stop(reason);
    const at = this.#queued.indexOf(call);
    if (at === -1) return;
    this.#queued.splice(at, 1);
    this.#forget(call);
    this.#wakeReadLoop();
  }

  // The call started by #start is over: counted as finished, and logged.
  #done(call: ServedCall): void {
    this.#ctx.taskEnded(call);
    this.#end(call);
    this.#ctx.tracer?.end(call);
    if (!this.#ctx.settings.accessLog) return;
    const ms = Math.round((performance.now() - call.started) * 1000) / 1000;
    this.#access("call", { id: call.id, method: call.method, code: call.code ?? null, ms });
  }

  async #reply(call: ServedCall, pending: Answer | Promise<Answer>): Promise<void> {
    let answer: Answer;
    try {
      answer = await pending;
    } catch (err) {
      return this.#sendError(call, err);
    }
    if ("value" in answer) return void await this.#sendAnswer(call, Code.RESULT, answer.value);
    const iterator = answer.stream[Symbol.asyncIterator]();
    try {
      // Each item counts its payload's size (compressed, if so): what the client counts too.
      const spend = (bytes: number) => call.spend(bytes);
      if (!await this.#sendAnswer(call, Code.STREAM_OPEN)) return;
      // Made once: each item then encodes only its value.
      const head = this.#conn.itemHead(call.id);
      while (true) {
        // With the credit extension the generator is not advanced past the client's window.
        const room = call.room();
        if (room) await this.#awaitCredit(room);
        if (call.stopped) return;
        const r = await iterator.next();
        if (r.done) break;
        // Awaited only when the send could not finish at once: most items cost no extra turn.
        const sent = this.#sendAnswer(call, Code.STREAM_ITEM, r.value, spend, head);
        if (!(typeof sent === "boolean" ? sent : await sent)) return;
      }
    } catch (err) {
      return this.#sendError(call, err);
    } finally {
      // Stops the generator if the stream ended early (cancelled, expired, connection gone, item
      // unframable): its `finally` runs.
      try {
        await iterator.return?.();
      } catch (err) {
        this.#ctx.logger.warn(
          "stream cleanup failed",
          this.#fields({ id: call.id, method: call.method, error: errorMessage(err) }),
        );
      }
    }
    await this.#sendAnswer(call, Code.STREAM_END);
  }

  // Sends a 2xx; one that cannot be encoded or framed becomes a 405 instead. Resolves to false if
  // the call is over. Synchronous (a plain boolean) unless it must wait: compression, backpressure,
  // or a 405 to send.
  // `onQueued` learns the payload's size (flow control's count).
  // `head`: for a stream item, its bytes before the value (Connection.itemHead), if any.
  #sendAnswer(
    call: ServedCall,
    code: number,
    result?: unknown,
    onQueued?: (bytes: number) => void,
    head?: Uint8Array,
  ): boolean | Promise<boolean> {
    if (call.stopped) return false; // cancelled or expired: nothing more is sent for it
    // The last answer is queued: the deadline can no longer add a 504 after it.
    if (code === Code.RESULT || code === Code.STREAM_END) call.finish();
    let sent: Promise<void> | undefined;
    call.code = code;
    try {
      if (head) sent = this.#conn.sendItem(head, result ?? null, onQueued);
      else if (code === Code.RESULT || code === Code.STREAM_ITEM) {
        sent = this.#conn.sendResult(code, call.id, result ?? null, onQueued);
      } else sent = this.#conn.sendAnswer(code, { ID: call.id }, onQueued);
    } catch (err) {
      return this.#answerFailed(call, err);
    }
    return sent ? sent.then(() => true, (err) => this.#answerFailed(call, err)) : true;
  }

  async #answerFailed(call: Call, err: unknown): Promise<boolean> {
    if (!(err instanceof RpcUnavailableException)) {
      if (!call.stopped) await this.#writeError(call, err, 1);
    }
    return false;
  }

  #sendError(call: Call, err: unknown): Promise<void> {
    return call.stopped ? Promise.resolve() : this.#writeError(call, err);
  }

  // Sends a call error, even for a stopped call (its deadline's 504 is its last message).
  // `echo`: whether DATA repeats the call's arguments.
  // Tries the full error, then without the echoed arguments, then with the terminator scrubbed
  // from its text (a 0.1 peer could not read a frame holding it): every call gets its answer.
  async #writeError(call: Call, err: unknown, attempt: 0 | 1 | 2 = 0): Promise<void> {
    const error = err instanceof MprpcError ? err : new RPCRuntimeError(errorMessage(err));
    const text = attempt === 2 ? scrubTerminator : (value: string) => value;
    const DATA: ErrorData = {
      METHOD: text(call.method),
      ARGS: attempt === 0 ? call.args : [],
      KWARGS: attempt === 0 ? call.kwargs : {},
    };
    if (this.#ctx.settings.debug && err instanceof Error && err.stack) DATA.FRAME = text(err.stack);
    const MESSAGE = {
      ID: text(call.id),
      EXCEPTION: text(errorClassName(err)),
      MESSAGE: text(error.message),
      DATA,
    };
    call.code = error.code;
    call.error = err;
    if (attempt === 0 && !call.started) this.#ctx.callRefused(call.method, error.code);
    try {
      await this.#conn.send({ MPRPC: VERSION, CODE: error.code, MESSAGE });
    } catch (sendErr) {
      if (!(sendErr instanceof ResultLimitError) || attempt === 2) return;
      const echoed = call.args.length > 0 || Object.keys(call.kwargs).length > 0;
      return this.#writeError(call, err, attempt === 0 && echoed ? 1 : 2);
    }
  }

  async #sendCode(code: number, fields: Message = {}): Promise<void> {
    try {
      await this.#conn.send({ MPRPC: VERSION, CODE: code, ...fields });
    } catch {
      // The connection is already gone: nobody is left to tell.
    }
  }

  // Sends a connection-level error, then closes the connection; later input is ignored.
  async #fail(code: number): Promise<void> {
    if (this.#failed) return;
    this.#failed = true;
    // Not awaited: behind a backlog of answers the peer does not read, the send would wait for
    // ever. close() sends what is queued, this last, within its grace period.
    void this.#sendCode(code);
    await this.#conn.close(CLOSE_GRACE);
  }

  // An access-log record (`accessLog: true`), with the connection's peer and user.
  #access(event: string, fields: LogFields): void {
    if (this.#ctx.settings.accessLog) this.#ctx.logger.info(event, this.#fields(fields));
  }

  // The call has finished: it leaves the connection, and a read loop waiting for room goes on.
  #end(call: ServedCall): void {
    call.finish();
    this.#forget(call);
    this.#startQueued();
    this.#wakeReadLoop();
  }

  // The call is over for this connection: its ID is free, and its message no longer held.
  #forget(call: ServedCall): void {
    if (call.listed) this.#inflight.delete(call.id);
    call.listed = false;
    this.#ctx.inflightBytes.give(call.inputBytes);
    call.inputBytes = 0;
  }

  // Gives waiting calls their turn while fewer than maxCallsPerConnection run.
  // A call that answers at once ends inside #start, which comes back here: the outer loop goes
  // on instead, so that a long queue is not one nested call per waiting call.
  #startQueued(): void {
    if (this.#startingQueued) return;
    this.#startingQueued = true;
    try {
      const cap = this.#ctx.settings.maxCallsPerConnection;
      while (this.#queued.length > 0 && this.#running() < cap) {
        const call = this.#queued.shift()!;
        this.#start(call);
      }
    } finally {
      this.#startingQueued = false;
    }
    this.#wakeReadLoop(); // the queue shrank: a read loop paused for a full queue goes on
  }

  async #awaitCredit(room: Promise<void>): Promise<void> {
    this.#awaitingCredit++;
    this.#startQueued();
    try {
      await room;
    } finally {
      this.#awaitingCredit--;
    }
  }

  #fields(fields: LogFields): LogFields {
    return { peer: this.#conn.remoteAddress, user: this.#client?.user ?? null, ...fields };
  }
}
