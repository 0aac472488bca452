/**
 * The server's span per call (the `tracing` option): a child of the caller's span when the call
 * carries its trace context (the `trace` extension), else the root of a new trace. The handler
 * runs with the span active, so the spans it starts are its children.
 *
 * @module
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from "../../deps.ts";
import { endSpan, failSpan, startCallSpan } from "../call/tracing.ts";
import type { CallContext } from "../call/call_context.ts";
import type { CallRequest } from "./dispatcher.ts";

// `host:port` or `[v6]:port` as the semantic conventions' address and port.
function peerAttributes(peer: string): Record<string, string | number> {
  const colon = peer.lastIndexOf(":");
  return {
    "network.peer.address": peer.slice(0, colon).replace(/^\[(.*)\]$/, "$1"),
    "network.peer.port": Number(peer.slice(colon + 1)),
  };
}

/** Runs `run` (the call's middleware and method) inside the span of `request`. */
export function traceServed(
  request: CallRequest,
  call: CallContext,
  run: () => Promise<unknown>,
): Promise<unknown> {
  const parent = request.trace ? propagation.extract(ROOT_CONTEXT, request.trace) : ROOT_CONTEXT;
  const span = startCallSpan(request.method, SpanKind.SERVER, parent);
  span.setAttributes(peerAttributes(call.peer));
  if (call.user !== null) span.setAttribute("enduser.id", call.user);
  return context.with(trace.setSpan(parent, span), run).then(
    (result) => endSpan(span, result, SpanKind.SERVER),
    (err) => {
      failSpan(span, err, SpanKind.SERVER);
      throw err;
    },
  );
}
