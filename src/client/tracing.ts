/**
 * The client's span per call (the `tracing` option): a child of the span active where the call
 * is made, whose context goes with the call (the `trace` extension) so that the server's span
 * continues the trace. A stream's span ends with the stream.
 *
 * @module
 */
import { context, propagation, type Span, SpanKind, trace } from "../../deps.ts";
import { isAsyncIterable } from "../call/answer.ts";
import { endCallSpan, startCallSpan } from "../call/tracing.ts";
import {
  MAX_TRACE_ENTRIES,
  MAX_TRACE_NAME,
  MAX_TRACE_VALUE,
  type TraceCarrier,
} from "../protocol/call_message.ts";
import { MprpcError } from "../protocol/errors.ts";
import { Code } from "../protocol/messages.ts";

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
  const sending = context.with(active, send, undefined, fitting(carrier));
  return sending.then(
    (result) => {
      if (isAsyncIterable(result)) return new TracedItems(result, span);
      endCallSpan(span, Code.RESULT);
      return result;
    },
    (err) => {
      failed(span, err);
      throw err;
    },
  );
}

// An error from the server carries its code; one raised here (an abort) has none.
function failed(span: Span, err: unknown): void {
  endCallSpan(span, err instanceof MprpcError ? err.code : undefined, err);
}

// What of `carrier` a server takes (see readCall): entries past the limits are left out, so that
// a propagator writing more (many baggage entries) costs the trace that context, never the call.
function fitting(carrier: TraceCarrier): TraceCarrier | undefined {
  let sent: TraceCarrier | undefined;
  let entries = 0;
  for (const [name, value] of Object.entries(carrier)) {
    if (entries === MAX_TRACE_ENTRIES) break;
    if (name.length > MAX_TRACE_NAME || value.length > MAX_TRACE_VALUE) continue;
    (sent ??= {})[name] = value;
    entries++;
  }
  return sent;
}

/**
 * A stream's items, passed through as they are read; the span ends with the stream: after its
 * last item, on its failure, or at once when the reader leaves (`return()`, even before reading:
 * forwarded at once, so the call is cancelled without waiting for an item).
 */
class TracedItems implements AsyncIterableIterator<unknown> {
  readonly #items: AsyncIterator<unknown>;
  #span?: Span;
  #count = 0;

  constructor(items: AsyncIterable<unknown>, span: Span) {
    this.#items = items[Symbol.asyncIterator]();
    this.#span = span;
  }

  async next(): Promise<IteratorResult<unknown>> {
    let result: IteratorResult<unknown>;
    try {
      result = await this.#items.next();
    } catch (err) {
      this.#end((span) => failed(span, err));
      throw err;
    }
    if (result.done) this.#end((span) => endCallSpan(span, Code.STREAM_END));
    else this.#count++;
    return result;
  }

  return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.#end((span) => {
      span.setAttribute("rpc.mprpc.cancelled", true);
      endCallSpan(span, undefined);
    });
    return this.#items.return?.(value) ?? Promise.resolve({ done: true, value });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  // Ends the span once, whichever way the stream ends first.
  #end(end: (span: Span) => void): void {
    const span = this.#span;
    if (!span) return;
    this.#span = undefined;
    span.setAttribute("rpc.mprpc.items", this.#count);
    end(span);
  }
}
