/**
 * The example server of pymprpc's README, on 127.0.0.1:5000 (`deno task serve`).
 * Try it: `tcp://admin:admin@127.0.0.1:5000`. With `BROKER=tcp://host:port` and
 * `MPRPC_BROKER_SECRET` it also joins that broker (examples/cluster.ts starts several so); with
 * `METRICS_PORT` it serves Prometheus metrics at `http://127.0.0.1:METRICS_PORT/metrics`.
 *
 * @module
 */
import { Server } from "../mod.ts";

class TestClass {
  /** Multiplies two numbers. */
  mul(a: number, b: number): number {
    return a * b;
  }

  /** Divides `a` by `b`. */
  div(a: number, b: number): number {
    return a / b;
  }
}

const server = new Server({
  hostname: "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 5000),
  version: "0.0.1",
  description: "the pymprpc README example",
  debug: Deno.env.get("MPRPC_DEBUG") === "1",
  ...Deno.env.has("METRICS_PORT") && { metricsPort: Number(Deno.env.get("METRICS_PORT")) },
  ...Deno.env.has("BROKER") && {
    broker: { url: Deno.env.get("BROKER")!, secret: Deno.env.get("MPRPC_BROKER_SECRET") ?? "" },
  },
});
server.registerIntrospectionFunctions();
server.registerFunction(function testfunc(a: number, b: number) {
  return a + b;
}, { help: "Adds a and b." });
server.registerFunction(async function testcoro(a: number, b: number) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  return a + b;
}, { help: "Adds a and b after 0.1 s." });
server.registerFunction(async function* testcorogen(a: number, b: number) {
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    yield a + b + i;
  }
}, { help: "Streams a + b + i for i in 0..9." });
server.registerInstance(new TestClass());
// CPU-heavy work runs in the worker pool, so it never blocks the calls above.
server.registerModule(new URL("./handlers.ts", import.meta.url));

await server.listen();
console.log(`mprpc example server on tcp://admin:admin@127.0.0.1:${server.addr.port}`);
if (server.metricsAddr) {
  console.log(`metrics on http://127.0.0.1:${server.metricsAddr.port}/metrics`);
}
await server.runForever();
