/** Dependencies used only by tests. */
export { decode, encode } from "npm:@msgpack/msgpack@^3.1.3";
export { install as installFakeClock } from "npm:@sinonjs/fake-timers@^15";
export { default as fc } from "npm:fast-check@^4";
export {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@^2.2.0";
export { W3CTraceContextPropagator } from "npm:@opentelemetry/core@^2.2.0";
export { AsyncLocalStorageContextManager } from "npm:@opentelemetry/context-async-hooks@^2.2.0";
