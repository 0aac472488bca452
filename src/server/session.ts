/**
 * The server's side of one connection: handshake, heartbeat, idle timeout and calls.
 *
 * @module
 */
import { runInCall } from "../call/call_context.ts";
import type { Codec } from "../wire/codec.ts";
import { checkCredentials, type Credential } from "./credentials.ts";
import { Connection } from "../wire/connection.ts";
import {
  errorClassName,
  MprpcError,
  NotFindError,
  RequestError,
  ResultLimitError,
  RPCRuntimeError,
  RpcUnavailableException,
  UnsupportSysMethodError,
} from "../protocol/errors.ts";
import type { Socket } from "../platform/transport.ts";
import {
  Code,
  type Compression,
  type ErrorData,
  EXTENSIONS,
  isMap,
  type Message,
  VERSION,
} from "../protocol/messages.ts";
import { type Registry, SYSTEM_PREFIX } from "./registry.ts";
import type { Answer, ResultStore } from "./result_store.ts";
import { bindArguments } from "./signature.ts";

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
}

/** What a session shares with its server. */
export interface ServerContext {
  readonly settings: SessionSettings;
  readonly codec: Codec;
  readonly registry: Registry;
  readonly results: ResultStore;
  /** Counts a call as started; the returned function counts it as finished. */
  startTask(): () => void;
  /** Writes an access-log line (debug mode). */
  log(line: string): void;
}

interface Call {
  id: string;
  method: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

const GETRESULT = "system.getresult";
const GETRESULT_PARAMS = [{ name: "id", text: "id", optional: false, rest: false }];

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}

function toAnswer(result: unknown): Answer {
  return isAsyncIterable(result) ? { stream: result } : { value: result ?? null };
}

/** Serves one connection until either side closes it. */
export class Session {
  /** Resolves when the connection is closed and its timers are cleared. */
  readonly done: Promise<void>;

  readonly #ctx: ServerContext;
  readonly #conn: Connection;
  readonly #inflight = new Set<string>();
  // Aborts when the connection closes, so that calls it queued in the worker pool are dropped.
  readonly #closed = new AbortController();
  #authenticated = false;
  #user: string | null = null;
  #draining = false;
  #failed = false;
  #timer?: ReturnType<typeof setTimeout>;

  /** Starts serving `socket`. */
  constructor(socket: Socket, ctx: ServerContext) {
    this.#ctx = ctx;
    this.#conn = new Connection(socket, ctx.codec, { maxMessageSize: ctx.settings.maxMessageSize });
    this.done = this.#run();
  }

  /** Refuses new calls with 503 from now on; running calls go on. */
  drain(): void {
    this.#draining = true;
  }

  /** Closes the connection after sending what is queued. */
  close(): Promise<void> {
    return this.#conn.close();
  }

  /** Closes the connection at once. */
  abort(): void {
    this.#conn.abort();
  }

  async #run(): Promise<void> {
    this.#log("connect");
    const handshake = this.#ctx.settings.handshakeTimeout;
    if (handshake > 0) this.#timer = setTimeout(() => this.#conn.abort(), handshake * 1000);
    const reader = this.#conn.messages.getReader();
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        for (const message of r.value) this.#receive(message);
      }
    } catch (err) {
      this.#log(`error ${err instanceof Error ? err.message : err}`);
      await this.#fail(err instanceof MprpcError ? err.code : Code.SERVER_ERROR);
    } finally {
      clearTimeout(this.#timer);
      this.#closed.abort();
      await this.#conn.close();
      this.#log("close");
    }
  }

  #receive(message: unknown): void {
    if (this.#failed) return;
    if (!isMap(message)) return void this.#sendCode(Code.PROTOCOL_SYNTAX);
    if (message.MPRPC !== VERSION) return void this.#fail(Code.PROTOCOL);
    if ("AUTH" in message) return void this.#handshake(message.AUTH);
    if (!this.#authenticated) return void this.#fail(Code.LOGIN_ERROR);
    if (message.HEARTBEAT === "ping") {
      return void this.#sendCode(Code.PONG, { HEARTBEAT: "pong" });
    }
    if (typeof message.ID === "string") return this.#call(message, message.ID);
    this.#sendCode(Code.PROTOCOL_SYNTAX);
  }

  async #handshake(auth: unknown): Promise<void> {
    if (this.#authenticated) return void this.#sendCode(Code.PROTOCOL_SYNTAX);
    const username = isMap(auth) && typeof auth.USERNAME === "string" ? auth.USERNAME : null;
    const password = isMap(auth) && typeof auth.PASSWORD === "string" ? auth.PASSWORD : null;
    if (!isMap(auth) || !checkCredentials(this.#ctx.settings.auth, username, password)) {
      this.#log(`login refused for ${JSON.stringify(username)}`);
      return void this.#fail(Code.LOGIN_ERROR);
    }
    this.#authenticated = true;
    this.#user = username;
    clearTimeout(this.#timer);
    const { version, description, debug, compression, timeout } = this.#ctx.settings;
    const reply: Message = {
      VERSION: version,
      DESC: description,
      DEBUG: debug,
      COMPRESER: compression,
      TIMEOUT: timeout,
    };
    // Extensions are answered only when asked for: a pymprpc client never sees EXT.
    const asked = isMap(auth) && Array.isArray(auth.EXT) ? auth.EXT : undefined;
    const accepted = asked && EXTENSIONS.filter((name) => asked.includes(name));
    if (accepted) reply.EXT = accepted;
    if (timeout > 0) this.#armIdleTimer(timeout * 1000);
    await this.#sendCode(Code.HANDSHAKE, reply);
    // The reply itself still ends with the terminator; everything after it is length-prefixed.
    if (accepted?.includes("len32")) this.#conn.useLength32();
  }

  // The idle clock runs from the last write; a connection with calls running is never idle.
  #armIdleTimer(timeout: number): void {
    const check = () => {
      const idle = Date.now() - this.#conn.lastWrite;
      if (this.#inflight.size > 0 || idle < timeout) {
        this.#timer = setTimeout(check, this.#inflight.size > 0 ? timeout : timeout - idle);
        return;
      }
      this.#log("idle timeout");
      this.#fail(Code.TIMEOUT);
    };
    this.#timer = setTimeout(check, timeout);
  }

  #call(message: Message, id: string): void {
    const { METHOD: method, ARGS: args = [], KWARGS: kwargs = {}, RETURN: wantsReturn = true } =
      message;
    const call: Call = {
      id,
      method: typeof method === "string" ? method : "",
      args: Array.isArray(args) ? args : [],
      kwargs: isMap(kwargs) ? kwargs : {},
    };
    const problem = typeof method !== "string"
      ? "METHOD must be a string"
      : !Array.isArray(args)
      ? "ARGS must be an array"
      : !isMap(kwargs)
      ? "KWARGS must be a map"
      : typeof wantsReturn !== "boolean"
      ? "RETURN must be a boolean"
      : this.#inflight.has(id)
      ? `a call with ID ${id} is already running on this connection`
      : undefined;
    if (problem) return void this.#sendError(call, new RequestError(problem));
    if (this.#draining) {
      return void this.#sendError(call, new RpcUnavailableException("the server is shutting down"));
    }
    this.#inflight.add(id);
    const done = this.#track(call);
    let answer: Answer | Promise<Answer>;
    try {
      answer = this.#execute(call);
    } catch (err) {
      answer = Promise.reject(err);
    }
    if (!wantsReturn) return void this.#ctx.results.put(id, Promise.resolve(answer)).then(done);
    if (!(answer instanceof Promise) && "value" in answer) {
      const sent = this.#sendAnswer(call, Code.RESULT, answer.value);
      return typeof sent === "boolean" ? done() : void sent.finally(done);
    }
    const replied = this.#reply(call, answer);
    replied.catch((err) => console.error("[mprpc] internal error:", err)).finally(done);
  }

  // Counts the call as running; the returned function counts it as finished.
  #track(call: Call): () => void {
    const finish = this.#ctx.startTask();
    if (!this.#ctx.settings.debug) {
      return () => {
        finish();
        this.#inflight.delete(call.id);
      };
    }
    const started = performance.now();
    this.#log(`call ${call.id} ${call.method}`);
    return () => {
      finish();
      this.#inflight.delete(call.id);
      this.#log(`done ${call.id} in ${(performance.now() - started).toFixed(1)} ms`);
    };
  }

  #execute(call: Call): Answer | Promise<Answer> {
    if (call.method === GETRESULT) {
      const [id] = bindArguments(GETRESULT_PARAMS, call.args, call.kwargs);
      const stored = this.#ctx.results.take(String(id));
      if (!stored) throw new RequestError(`no result for ID ${id} (unknown, or already taken)`);
      return stored;
    }
    const method = this.#ctx.registry.get(call.method);
    if (!method) {
      if (call.method.startsWith(SYSTEM_PREFIX)) {
        throw new UnsupportSysMethodError(`unsupported system method '${call.method}'`);
      }
      throw new NotFindError(`no method named '${call.method}'`);
    }
    const args = bindArguments(method.parameters, call.args, call.kwargs);
    const context = {
      id: call.id,
      method: call.method,
      peer: this.#conn.remoteAddress,
      user: this.#user,
      signal: this.#closed.signal,
    };
    const result = runInCall(context, () => method.run(args));
    return isThenable(result) ? Promise.resolve(result).then(toAnswer) : toAnswer(result);
  }

  async #reply(call: Call, pending: Answer | Promise<Answer>): Promise<void> {
    let answer: Answer;
    try {
      answer = await pending;
    } catch (err) {
      return this.#sendError(call, err);
    }
    if ("value" in answer) return void await this.#sendAnswer(call, Code.RESULT, answer.value);
    const iterator = answer.stream[Symbol.asyncIterator]();
    try {
      if (!await this.#sendAnswer(call, Code.STREAM_OPEN)) return;
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
        // Awaited only when the send could not finish at once: most items cost no extra turn.
        const sent = this.#sendAnswer(call, Code.STREAM_ITEM, r.value);
        if (!(typeof sent === "boolean" ? sent : await sent)) return;
      }
    } catch (err) {
      return this.#sendError(call, err);
    } finally {
      // Stops the generator if the stream ended early (connection gone, item unframable).
      try {
        await iterator.return?.();
      } catch (err) {
        this.#log(`stream cleanup of ${call.id} failed: ${err}`);
      }
    }
    await this.#sendAnswer(call, Code.STREAM_END);
  }

  // Sends a 2xx; one that cannot be encoded or framed becomes a 405 instead. Resolves to false if
  // the call is over. Synchronous (a plain boolean) unless it must wait: compression, backpressure,
  // or a 405 to send.
  #sendAnswer(call: Call, code: number, result?: unknown): boolean | Promise<boolean> {
    const MESSAGE = code === Code.RESULT || code === Code.STREAM_ITEM
      ? { ID: call.id, RESULT: result ?? null }
      : { ID: call.id };
    let sent: Promise<void> | undefined;
    try {
      sent = this.#conn.send({ MPRPC: VERSION, CODE: code, MESSAGE });
    } catch (err) {
      return this.#answerFailed(call, err);
    }
    return sent ? sent.then(() => true, (err) => this.#answerFailed(call, err)) : true;
  }

  async #answerFailed(call: Call, err: unknown): Promise<boolean> {
    if (!(err instanceof RpcUnavailableException)) {
      await this.#sendError({ ...call, args: [], kwargs: {} }, err);
    }
    return false;
  }

  async #sendError(call: Call, err: unknown): Promise<void> {
    const error = err instanceof MprpcError ? err : new RPCRuntimeError(String(
      err instanceof Error ? err.message : err,
    ));
    const exception = errorClassName(err);
    const DATA: ErrorData = { METHOD: call.method, ARGS: call.args, KWARGS: call.kwargs };
    if (this.#ctx.settings.debug && err instanceof Error && err.stack) DATA.FRAME = err.stack;
    const MESSAGE = { ID: call.id, EXCEPTION: exception, MESSAGE: error.message, DATA };
    this.#log(`error ${call.id} ${error.code} ${exception}: ${error.message}`);
    try {
      await this.#conn.send({ MPRPC: VERSION, CODE: error.code, MESSAGE });
    } catch (sendErr) {
      // Only the arguments echoed in DATA can make an error unframable; drop them and retry.
      if (
        sendErr instanceof ResultLimitError && (call.args.length || Object.keys(call.kwargs).length)
      ) {
        return this.#sendError({ ...call, args: [], kwargs: {} }, err);
      }
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
    await this.#sendCode(code);
    await this.#conn.close();
  }

  #log(event: string): void {
    if (this.#ctx.settings.debug) this.#ctx.log(`${this.#conn.remoteAddress} ${event}`);
  }
}
