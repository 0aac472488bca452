/**
 * The server's span per call (the `tracing` option): a child of the caller's span when the call
 * carries its trace context (the `trace` extension), else the root of a new trace. The call runs
 * with the span active, so the spans its handler starts are its children; the session ends it
 * when the call is over, with the code it sent.
 *
 * @module
 */
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  trace,
} from "../../deps.ts";
import type { Logger } from "../util/logger.ts";
import { endCallSpan, startCallSpan } from "../call/tracing.ts";
import type { ServedCall } from "./served_call.ts";

// `host:port` or `[v6]:port` as the semantic conventions' address and port.
function peerAttributes(peer: string): Record<string, string | number> {
  const colon = peer.lastIndexOf(":");
  return {
    "network.peer.address": peer.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
    "network.peer.port": Number(peer.slice(colon + 1)),
  };
}

/**
 * Spans of served calls: one per call, from its start to its end. The application's tracing code
 * (propagator, span processors) runs here: what it throws is logged, and never stops a call.
 */
export class CallTracer {
  readonly #logger: Logger;

  /** Spans whose failures are reported to `logger`. */
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Starts the span of `call` and runs `run` (its dispatch) with the span active. */
  run(call: ServedCall, run: () => void): void {
    let active: Context;
    try {
      const parent = call.trace ? propagation.extract(ROOT_CONTEXT, call.trace) : ROOT_CONTEXT;
      const span: Span = startCallSpan(call.method, SpanKind.SERVER, parent);
      span.setAttributes(peerAttributes(call.peer));
      if (call.user !== null) span.setAttribute("enduser.id", call.user);
      call.span = span;
      active = trace.setSpan(parent, span);
    } catch (err) {
      this.#failed(call, err);
      return run();
    }
    context.with(active, run);
  }

  /**
   * Ends the span of `call`, which is over: with the last code sent for it if that ended it, else
   * as cancelled (the client cancelled it or left, maybe mid-stream) or as stored (a
   * `RETURN: false` call's outcome waits for `system.getresult`).
   */
  end(call: ServedCall): void {
    const span = call.span;
    if (!span) return;
    call.span = undefined;
    try {
      const code = call.finalCode;
      if (code === undefined) {
        span.setAttribute(call.attached ? "rpc.mprpc.cancelled" : "rpc.mprpc.stored", true);
      }
      endCallSpan(span, code, call.error);
    } catch (err) {
      this.#failed(call, err);
    }
  }

  #failed(call: ServedCall, err: unknown): void {
    const error = err instanceof Error ? err.message : String(err);
    this.#logger.error("tracing failed", { id: call.id, method: call.method, error });
  }
}
