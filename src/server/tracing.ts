/**
 * The server's span per call (the `tracing` option): a child of the caller's span when the call
 * carries its trace context (the `trace` extension), else the root of a new trace. The call runs
 * with the span active, so the spans its handler starts are its children; the session ends it
 * when the call is over, with the code it sent.
 *
 * @module
 */
import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, trace } from "../../deps.ts";
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

/** Spans of served calls: one per call, from its start to its end. */
export class CallTracer {
  /** Starts the span of `call` and runs `run` (its dispatch) with the span active. */
  run(call: ServedCall, run: () => void): void {
    const parent = call.trace ? propagation.extract(ROOT_CONTEXT, call.trace) : ROOT_CONTEXT;
    const span: Span = startCallSpan(call.method, SpanKind.SERVER, parent);
    span.setAttributes(peerAttributes(call.peer));
    if (call.user !== null) span.setAttribute("enduser.id", call.user);
    call.span = span;
    context.with(trace.setSpan(parent, span), run);
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
    const code = call.finalCode;
    if (code === undefined) {
      span.setAttribute(call.attached ? "rpc.mprpc.cancelled" : "rpc.mprpc.stored", true);
    }
    endCallSpan(span, code, call.error);
  }
}
