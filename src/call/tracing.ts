/**
 * What client and server tracing share: mprpc's tracer, a span's attributes and its end, and a
 * stream whose span lasts until its last item. Spans go through the OpenTelemetry API, a no-op
 * until the application registers an SDK; the `tracing` options turn them on.
 *
 * @module
 */
import { type Span, type SpanKind, SpanStatusCode, trace, type Tracer } from "../../deps.ts";
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

// The status code of a failure: the error's own, else 404 (how a server answers a plain throw).
function codeOf(err: unknown): number {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "number" ? code : Code.RUNTIME_ERROR;
}

/** Ends `span` as failed with `err`. */
export function failSpan(span: Span, err: unknown): void {
  span.setAttribute("rpc.mprpc.status_code", codeOf(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : "" });
  if (err instanceof Error) span.recordException(err);
  span.end();
}

/**
 * Ends `span` with the call's `result`, or hands back a stream whose span ends with it: after its
 * last item (206), on its failure, or when its reader leaves early (then it is ended as
 * cancelled, without an error status).
 */
export function endSpan(span: Span, result: unknown): unknown {
  if (!isAsyncIterable(result)) {
    span.setAttribute("rpc.mprpc.status_code", Code.RESULT);
    span.end();
    return result;
  }
  return tracedItems(result, span);
}

async function* tracedItems(items: AsyncIterable<unknown>, span: Span): AsyncGenerator<unknown> {
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
    failSpan(span, err);
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
