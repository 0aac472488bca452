/**
 * What client and server tracing share: a call's span, started with the RPC attributes of
 * OpenTelemetry's semantic conventions and ended with the status code the call ended with. Spans
 * go through the OpenTelemetry API, a no-op until the application registers an SDK; the `tracing`
 * options turn them on.
 *
 * @module
 */
import { type Span, type SpanKind, SpanStatusCode, trace, type Tracer } from "../../deps.ts";
import { Code } from "../protocol/messages.ts";

/** `SpanKind.CLIENT` or `SpanKind.SERVER`. */
export type CallSpanKind = typeof SpanKind.CLIENT | typeof SpanKind.SERVER;

/** The attribute that holds the status code a call ended with. */
export const STATUS_CODE = "rpc.mprpc.status_code";

/**
 * Starts the span of a call to `method`, named after it, with `rpc.system` (`"mprpc"`) and
 * `rpc.method`. `parent`: the context it continues.
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
 * Ends `span` with the status code its call ended with, if it got one: an error's (from 400 on)
 * sets the span's status to `ERROR`, with `error` recorded when known. A call that failed without
 * a code (an abort before any answer) passes only `error`.
 */
export function endCallSpan(span: Span, code: number | undefined, error?: unknown): void {
  if (code !== undefined) span.setAttribute(STATUS_CODE, code);
  if (error !== undefined || (code !== undefined && code >= Code.REQUEST_ERROR)) {
    const message = error instanceof Error ? error.message : "";
    span.setStatus({ code: SpanStatusCode.ERROR, message });
    if (error instanceof Error) span.recordException(error);
  }
  span.end();
}
