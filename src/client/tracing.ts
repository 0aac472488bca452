/**
 * The client's span per call (the `tracing` option): a child of the span active where the call
 * is made, whose context goes with the call (the `trace` extension) so that the server's span
 * continues the trace.
 *
 * @module
 */
import { context, propagation, SpanKind, trace } from "../../deps.ts";
import { endSpan, failSpan, startCallSpan } from "../call/tracing.ts";
import type { TraceCarrier } from "../protocol/call_message.ts";

/**
 * Runs `send` inside the span of a call to `method`, giving it the trace context to send
 * (`undefined` when the application's propagator writes none).
 */
export function traceCall(
  method: string,
  send: (trace: TraceCarrier | undefined) => Promise<unknown>,
): Promise<unknown> {
  const parent = context.active();
  const span = startCallSpan(method, SpanKind.CLIENT, parent);
  const active = trace.setSpan(parent, span);
  const carrier: TraceCarrier = {};
  propagation.inject(active, carrier);
  const sending = context.with(active, send, undefined, hasKeys(carrier) ? carrier : undefined);
  return sending.then(
    (result) => endSpan(span, result, SpanKind.CLIENT),
    (err) => {
      failSpan(span, err, SpanKind.CLIENT);
      throw err;
    },
  );
}

function hasKeys(carrier: TraceCarrier): boolean {
  for (const _ in carrier) return true;
  return false;
}
