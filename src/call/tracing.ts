/**
 * What client and server tracing share: mprpc's tracer, a span's attributes and its end, and a
 * stream whose span lasts until its last item. Spans go through the OpenTelemetry API, a no-op
 * until the application registers an SDK; the `tracing` options turn them on.
 *
 * @module
 */
import { type Span, SpanKind, SpanStatusCode, trace, type Tracer } from "../../deps.ts";
import { MprpcError } from "../protocol/errors.ts";
import { isAsyncIterable } from "./answer.ts";
import { Code } from "../protocol/messages.ts";

/** `SpanKind.CLIENT` or `SpanKind.SERVER`. */
export type CallSpanKind = typeof SpanKind.CLIENT | typeof SpanKind.SERVER;

/**
 * Starts the span of a call to `method`, named after it, with the RPC attributes of OpenTelemetry's
 * semantic conventions (`rpc.system` is `"mprpc"`). `parent`: the context it continues.
 */
export function startCallSpan(
  method: string,
  kind: CallSpanKind,
  parent: Parameters<Tracer["startSpan"]>[2],
): Span {
  const attributes = { "rpc.system": "mprpc", "rpc.method": method };
  // Asked for each call, not kept: a tracer follows the provider it came from, and the
  // application may register (or replace) its provider at any time.
  return trace.getTracer("mprpc").startSpan(method, { kind, attributes }, parent);
}

/**
 * Ends `span` as failed with `err`: an `MprpcError` with its status code (a plain error on the
 * server is answered with 404); one that never reached the wire (an abort) with none.
 */
export function failSpan(span: Span, err: unknown, side: CallSpanKind): void {
  if (err instanceof MprpcError) span.setAttribute("rpc.mprpc.status_code", err.code);
  else if (side === SpanKind.SERVER) span.setAttribute("rpc.mprpc.status_code", Code.RUNTIME_ERROR);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : "" });
  if (err instanceof Error) span.recordException(err);
  span.end();
}

/**
 * Ends `span` with the call's `result`, or hands back a stream whose span ends with it: after its
 * last item (206), on its failure, or when its reader leaves early (then it is ended as
 * cancelled, without an error status).
 */
export function endSpan(span: Span, result: unknown, side: CallSpanKind): unknown {
  if (!isAsyncIterable(result)) {
    span.setAttribute("rpc.mprpc.status_code", Code.RESULT);
    span.end();
    return result;
  }
  return tracedItems(result, span, side);
}

async function* tracedItems(
  items: AsyncIterable<unknown>,
  span: Span,
  side: CallSpanKind,
): AsyncGenerator<unknown> {
  let count = 0;
  let outcome: "end" | "error" | undefined;
  try {
    for await (const item of items) {
      count++;
      yield item;
    }
    outcome = "end";
  } catch (err) {
    outcome = "error";
    span.setAttribute("rpc.mprpc.items", count);
    failSpan(span, err, side);
    throw err;
  } finally {
    if (outcome !== "error") {
      span.setAttribute("rpc.mprpc.items", count);
      if (outcome === "end") span.setAttribute("rpc.mprpc.status_code", Code.STREAM_END);
      else span.setAttribute("rpc.mprpc.cancelled", true);
      span.end();
    }
  }
}
