/**
 * One call as the server serves it: the request, the context its handler sees, and the state the
 * session keeps to stop it (cancel, deadline, the connection closing) and to pace its stream
 * (credit).
 *
 * @module
 */
import type { Span } from "../../deps.ts";
import type { CallContext } from "../call/call_context.ts";
import { type CallMessage, creditCharge, type TraceCarrier } from "../protocol/call_message.ts";
import { Wakeup } from "../util/wakeup.ts";
import { timer } from "../util/timers.ts";
import type { CallRequest } from "./dispatcher.ts";
import type { PeerCertificate } from "../platform/transport.ts";
import { Code } from "../protocol/messages.ts";

/** Who a connection's calls come from. */
export interface CallClient {
  /** `host:port` of the client. */
  readonly peer: string;
  /** The user the client authenticated as. */
  readonly user: string | null;
  /** The client's certificate, on a TLS server that asks for one. */
  readonly certificate?: PeerCertificate;
}

/** A call being served; it is its handler's {@linkcode CallContext}. Made once per call: lean. */
export class ServedCall implements CallContext, CallRequest {
  /** The call's `ID`. */
  readonly id: string;
  /** The method name. */
  readonly method: string;
  /** Positional arguments. */
  readonly args: unknown[];
  /** Named arguments. */
  readonly kwargs: Record<string, unknown>;
  /** The caller's trace context (the `trace` extension), if it sent one. */
  readonly trace: TraceCarrier | undefined;
  /** `host:port` of the client. */
  readonly peer: string;
  /** The user the client authenticated as. */
  readonly user: string | null;
  /** The client's certificate, on a TLS server that asks for one. */
  readonly certificate?: PeerCertificate;
  /** When the call must be over, in ms since the epoch (the `deadline` extension). */
  readonly deadline: number | undefined;
  /** The last status code sent for it (the access log's). */
  code?: number;
  /** The error it was answered with, if any (its span records it). */
  error?: unknown;
  /** Its span, with the `tracing` option, from its start until it is over. */
  span?: Span;
  /** The bytes of its message the server counts as held (`maxInflightBytes`) until it ends. */
  inputBytes = 0;
  /** When it started running, in ms by the server's clock (0 until then): metrics, access log. */
  started = 0;
  /**
   * Whether its session lists it among the connection's calls in flight: `undefined` while it
   * is being started, `true` once listed, `false` once the session is done with it.
   */
  listed?: boolean;

  // Where the abort of a call that outlives its connection comes from (the server stopping).
  readonly #outer: AbortSignal | undefined;
  #controller?: AbortController;
  #stop?: { reason: unknown };
  #unlink?: () => void;
  #timer?: ReturnType<typeof setTimeout>;
  #finished = false;
  // The stream's window: bytes the client granted, and bytes sent (credit extension).
  #credit?: { granted: number; sent: number; more: Wakeup };

  /**
   * The call `message` from `client`. Its `DEADLINE`, if any, counts from now; it is ignored with
   * `outer`, given for a call that outlives its connection (no one waits for it): that call stops
   * when `outer` aborts, not with the connection.
   */
  constructor(message: CallMessage, client: CallClient, outer?: AbortSignal) {
    this.id = message.id;
    this.method = message.method;
    this.args = message.args;
    this.kwargs = message.kwargs;
    this.trace = message.trace;
    this.peer = client.peer;
    this.user = client.user;
    if (client.certificate) this.certificate = client.certificate;
    this.#outer = outer;
    this.deadline = message.deadline !== undefined && !outer
      ? Date.now() + message.deadline
      : undefined;
    if (message.credit !== undefined) {
      this.#credit = { granted: message.credit, sent: 0, more: new Wakeup() };
    }
  }

  /**
   * Aborts when the call is stopped. Made on first use: most handlers never look, and an
   * `AbortController` per call would cost every call.
   */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#stop) this.#controller.abort(this.#stop.reason);
      else this.#link();
    }
    return this.#controller.signal;
  }

  /** Whether the call was stopped: nothing more is sent for it. */
  get stopped(): boolean {
    return this.#stop !== undefined;
  }

  /** Whether it follows its connection (false for a `RETURN: false` call). */
  get attached(): boolean {
    return this.#outer === undefined;
  }

  /**
   * The code the call ended with: its last answer's, unless that was a `201` or `202` of a stream
   * cut short (cancelled, or its client gone); `undefined` if it ended with none (that, or a
   * `RETURN: false` call, whose outcome is kept instead).
   */
  get finalCode(): number | undefined {
    const code = this.code;
    return code === Code.STREAM_OPEN || code === Code.STREAM_ITEM ? undefined : code;
  }

  /**
   * Stops the call: its signal aborts, a stream waiting for credit wakes to find it stopped, and
   * nothing more is sent for it. Once; later calls do nothing.
   */
  stop(reason: unknown): void {
    if (this.#stop) return;
    this.#stop = { reason };
    this.#controller?.abort(reason);
    this.#credit?.more.wake();
    this.finish();
  }

  /**
   * Calls `onExpiry` at the deadline, unless the call finishes first. A deadline beyond what a
   * timer can wait (about 24.8 days) never fires.
   */
  expireAt(deadline: number, onExpiry: () => void): void {
    this.#timer = timer(onExpiry, Math.max(0, deadline - Date.now()));
  }

  /** Adds `bytes` to the stream's window (a credit grant). */
  grant(bytes: number): void {
    if (!this.#credit) return;
    this.#credit.granted += bytes;
    this.#credit.more.wake();
  }

  /** Counts one item sent, whose payload had `bytes` bytes. */
  spend(bytes: number): void {
    if (this.#credit) this.#credit.sent += creditCharge(bytes);
  }

  /**
   * Resolves when the stream may send another item: `undefined` (no wait) while its window has
   * room, or when it has none (0.1); a promise once the window is used up, settled by the next
   * grant or by the call stopping.
   */
  room(): Promise<void> | undefined {
    const credit = this.#credit;
    if (!credit || credit.sent < credit.granted || this.#stop) return undefined;
    return credit.more.wait();
  }

  /** Releases the timer and the link to the outer signal: the call is over. */
  finish(): void {
    this.#finished = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#unlink) this.#unlink(), this.#unlink = undefined;
  }

  // A call that outlives its connection stops when the outer signal aborts (while it runs).
  #link(): void {
    const outer = this.#outer;
    if (!outer || this.#finished) return;
    if (outer.aborted) return this.stop(outer.reason);
    const onAbort = () => this.stop(outer.reason);
    outer.addEventListener("abort", onAbort, { once: true });
    this.#unlink = () => outer.removeEventListener("abort", onAbort);
  }
}
