/**
 * OpenTelemetry tracing (`tracing: true`): a span per call on each side, the trace context carried
 * by the `trace` extension, and never sent to a peer that did not accept it.
 */
import assert from "node:assert/strict";
import { AsyncRPC, callContext, RestrictAccessError, RPC } from "../../mod.ts";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "../../deps.ts";
import {
  AsyncLocalStorageContextManager,
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  W3CTraceContextPropagator,
} from "../test_deps.ts";
import { listenTcp, test } from "../test_platform.deno.ts";
import { collect, deferred, startServer, urlOf, WireClient } from "../helpers.ts";

// An OpenTelemetry SDK registered for the duration of one test, its spans kept in memory;
// `ended(matches)` waits for a span to end (a server's span ends after its last answer is sent,
// which the client may read first).
function installSdk() {
  const spans = new InMemorySpanExporter();
  const waiters = new Set<() => void>();
  const notifier = {
    onStart() {},
    onEnd() {
      for (const wake of waiters) wake();
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(spans), notifier],
  });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const ended = (matches: (span: ReadableSpan) => boolean) =>
    new Promise<ReadableSpan>((resolve) => {
      const check = () => {
        const span = spans.getFinishedSpans().find(matches);
        if (!span) return;
        waiters.delete(check);
        resolve(span);
      };
      waiters.add(check);
      check();
    });
  return {
    spans,
    ended,
    [Symbol.dispose]() {
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

const isServer = (span: ReadableSpan) => span.kind === SpanKind.SERVER;

function byKind(spans: ReadableSpan[], kind: SpanKind): ReadableSpan[] {
  return spans.filter((span) => span.kind === kind);
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

test("tracing: the server's span continues the client's trace, and the handler's spans nest in it", async () => {
  using sdk = installSdk();
  await using server = await startServer({ tracing: true }, (s) => {
    s.registerFunction(async function add(a: number, b: number) {
      await new Promise((resolve) => setTimeout(resolve, 1)); // a later turn: the span holds
      const inner = trace.getTracer("app").startSpan("inner work");
      inner.end();
      return a + b;
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { tracing: true });
  assert.ok(rpc.remoteInfo?.EXT?.includes("trace"));
  const outer = trace.getTracer("app").startSpan("request");
  const sum = await context.with(trace.setSpan(context.active(), outer), () => rpc.add(2, 3));
  outer.end();
  assert.equal(sum, 5);

  await sdk.ended(isServer);
  const spans = sdk.spans.getFinishedSpans();
  const [client] = byKind(spans, SpanKind.CLIENT);
  const [served] = byKind(spans, SpanKind.SERVER);
  const inner = spans.find((span) => span.name === "inner work")!;
  assert.equal(client.name, "add");
  assert.equal(served.name, "add");
  const traceId = outer.spanContext().traceId;
  for (const span of [client, served, inner]) assert.equal(span.spanContext().traceId, traceId);
  assert.equal(parentOf(client), outer.spanContext().spanId);
  assert.equal(parentOf(served), client.spanContext().spanId);
  assert.equal(parentOf(inner), served.spanContext().spanId);
  assert.equal(served.attributes["rpc.system"], "mprpc");
  assert.equal(served.attributes["rpc.method"], "add");
  assert.equal(served.attributes["rpc.mprpc.status_code"], 200);
  assert.equal(served.attributes["network.peer.address"], "127.0.0.1");
  assert.equal(served.attributes["enduser.id"], "admin");
  assert.equal(client.attributes["rpc.mprpc.status_code"], 200);
});

test("tracing: a failed call's spans carry its code and an error status", async () => {
  using sdk = installSdk();
  await using server = await startServer({ tracing: true }, (s) => {
    s.registerFunction(function locked() {
      throw new RestrictAccessError("no");
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { tracing: true });
  await assert.rejects(rpc.locked(), RestrictAccessError);
  await assert.rejects(rpc.missing());
  await sdk.ended((span) => isServer(span) && span.name === "missing");
  const spans = sdk.spans.getFinishedSpans();
  const codes = (kind: SpanKind) =>
    byKind(spans, kind).map((span) => [
      span.name,
      span.attributes["rpc.mprpc.status_code"],
      span.status.code,
    ]);
  const expected = [
    ["locked", 403, SpanStatusCode.ERROR],
    ["missing", 401, SpanStatusCode.ERROR],
  ];
  assert.deepEqual(codes(SpanKind.SERVER), expected);
  assert.deepEqual(codes(SpanKind.CLIENT), expected);

  // A call the caller aborted never got a code: its span fails without one.
  sdk.spans.reset();
  const controller = new AbortController();
  controller.abort(new Error("not wanted"));
  await assert.rejects(rpc.call("locked", [], {}, { signal: controller.signal }), /not wanted/);
  const [aborted] = sdk.spans.getFinishedSpans();
  assert.equal(aborted.status.code, SpanStatusCode.ERROR);
  assert.equal(aborted.status.message, "not wanted");
  assert.ok(!("rpc.mprpc.status_code" in aborted.attributes));
});

test("tracing: a stream's spans end with its last item", async () => {
  using sdk = installSdk();
  await using server = await startServer({ tracing: true }, (s) => {
    s.registerFunction(async function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { tracing: true });
  const items = await rpc.count(3);
  const early = byKind(sdk.spans.getFinishedSpans(), SpanKind.CLIENT);
  assert.equal(early.length, 0, "the client's span ends with its reading");
  assert.deepEqual(await collect(items), [0, 1, 2]);
  const served = await sdk.ended(isServer);
  const [client] = byKind(sdk.spans.getFinishedSpans(), SpanKind.CLIENT);
  assert.equal(served.attributes["rpc.mprpc.status_code"], 206);
  assert.equal(client.attributes["rpc.mprpc.status_code"], 206);
  assert.equal(client.attributes["rpc.mprpc.items"], 3);
});

test("tracing: a stream left before its first item is cancelled at once, and both spans end", async () => {
  using sdk = installSdk();
  const stopped = deferred();
  await using server = await startServer({ tracing: true }, (s) => {
    s.registerFunction(async function* waiting() {
      try {
        yield "first";
        const { signal } = callContext();
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      } finally {
        stopped.resolve();
      }
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { tracing: true });
  const items = (await rpc.waiting())[Symbol.asyncIterator]();
  await items.return!();
  const [client] = byKind(sdk.spans.getFinishedSpans(), SpanKind.CLIENT);
  assert.equal(client.attributes["rpc.mprpc.cancelled"], true);
  assert.equal(client.attributes["rpc.mprpc.items"], 0);
  assert.equal(client.status.code, SpanStatusCode.UNSET);
  await stopped.promise; // the cancel reached the generator
  const served = await sdk.ended(isServer);
  assert.equal(served.attributes["rpc.mprpc.cancelled"], true);
  assert.ok(!("rpc.mprpc.status_code" in served.attributes));
});

test("tracing: a call past its deadline ends its server span with the 504 sent, not what the handler returned later", async () => {
  using sdk = installSdk();
  const returned = deferred();
  await using server = await startServer({ tracing: true }, (s) => {
    s.registerFunction(async function late() {
      const { signal } = callContext();
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      returned.resolve();
      return "too late";
    });
  });
  // A raw client that sends a deadline and never cancels: AsyncRPC also cancels a call when its
  // own timer fires, and that cancel may reach the server before the server's deadline passes.
  const client = await WireClient.open(server.addr.port);
  try {
    assert.equal((await client.login("admin", "admin", ["deadline"]))?.CODE, 100);
    await client.call("d", "late", [], { DEADLINE: 50 });
    assert.equal((await client.next())?.CODE, 504);
  } finally {
    client.close();
  }
  await returned.promise;
  const served = await sdk.ended(isServer);
  assert.equal(served.attributes["rpc.mprpc.status_code"], 504);
  assert.equal(served.status.code, SpanStatusCode.ERROR);
});

test("tracing: a RETURN: false call's span ends when its outcome is stored; getresult has its own", async () => {
  using sdk = installSdk();
  await using server = await startServer({ tracing: true }, (s) => {
    s.registerFunction((a: number, b: number) => a + b, { name: "add" });
    s.use((_ctx, next) => next()); // the middleware path too: the span encloses it
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { tracing: true });
  const id = await rpc.delay("add", [1, 2]);
  const stored = await sdk.ended((span) => isServer(span) && span.name === "add");
  assert.equal(stored.attributes["rpc.mprpc.stored"], true);
  assert.equal(await rpc.system.getresult(id), 3);
  const fetched = await sdk.ended((span) => isServer(span) && span.name === "system.getresult");
  assert.equal(fetched.attributes["rpc.mprpc.status_code"], 200);
});

test("tracing: a server without tracing, and one that did not accept the extension, get no TRACE", async () => {
  using sdk = installSdk();
  // A plain MPRPC 0.1 server (as pymprpc answers: no EXT) that records the call it gets.
  const listener = await listenTcp();
  const served = (async () => {
    const peer = WireClient.over(await listener.accept());
    const messages: Record<string, unknown>[] = [];
    for (let message = await peer.next(); message; message = await peer.next()) {
      messages.push(message);
      await peer.send(
        "AUTH" in message
          ? { MPRPC: "0.1", CODE: 100, VERSION: null, DESC: null, DEBUG: false }
          : { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: message.ID, RESULT: 7 } },
      );
      if (messages.length === 2) break;
    }
    peer.close();
    return messages;
  })();
  try {
    const rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${listener.port}`, {
      tracing: true,
      reconnect: false,
    });
    assert.equal(await rpc.add(3, 4), 7);
    await rpc.close();
    const [, call] = await served;
    assert.equal(call.METHOD, "add");
    assert.ok(!("TRACE" in call), JSON.stringify(call));
    // The client's span is made all the same.
    assert.equal(byKind(sdk.spans.getFinishedSpans(), SpanKind.CLIENT).length, 1);
  } finally {
    listener.close();
  }

  // An mprpc server without tracing accepts the extension, and makes no span of its own.
  sdk.spans.reset();
  await using server = await startServer({}, (s) => s.registerFunction(() => 1, { name: "one" }));
  await using rpc = await AsyncRPC.connect(urlOf(server), { tracing: true });
  assert.equal(await rpc.one(), 1);
  assert.deepEqual(sdk.spans.getFinishedSpans().map((span) => span.kind), [SpanKind.CLIENT]);
});

test("tracing: TRACE needs the extension and must be a small map of strings", async () => {
  await using server = await startServer({ tracing: true }, (s) => {
    s.registerFunction(() => 1, { name: "one" });
  });
  const plain = await WireClient.open(server.addr.port);
  try {
    await plain.login();
    await plain.call("a", "one", [], { TRACE: { traceparent: "x" } });
    const refused = await plain.next();
    assert.equal(refused?.CODE, 400);
    assert.match(
      String((refused?.MESSAGE as Record<string, unknown>).MESSAGE),
      /TRACE needs the 'trace' extension/,
    );
  } finally {
    plain.close();
  }
  const traced = await WireClient.open(server.addr.port);
  try {
    assert.deepEqual((await traced.login("admin", "admin", ["trace"]))?.EXT, ["trace"]);
    await traced.call("b", "one", [], { TRACE: { traceparent: 5 } });
    const many = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, "v"]));
    await traced.call("c", "one", [], { TRACE: many });
    await traced.call("d", "one", [], { TRACE: { tracestate: "x".repeat(8193) } });
    await traced.call("e", "one", [], { TRACE: { traceparent: "not a valid one" } });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await traced.next());
    assert.deepEqual(answers.map((answer) => answer?.CODE), [400, 400, 400, 200]);
    assert.match(
      String((answers[0]?.MESSAGE as Record<string, unknown>).MESSAGE),
      /TRACE must be a map of at most 8 names of at most 256 characters, to strings of at most 8192/,
    );
  } finally {
    traced.close();
  }
});

test("tracing: what a propagator writes past the limits is left out, and the call goes through", async () => {
  using _sdk = installSdk();
  let received: Record<string, string> | undefined;
  propagation.disable(); // in place of the SDK's W3C propagator
  propagation.setGlobalPropagator({
    inject(_context, carrier: Record<string, string>) {
      carrier.big = "x".repeat(8193); // over the value limit: left out
      for (let i = 0; i < 10; i++) carrier[`k${i}`] = "v"; // 8 of them fit
    },
    extract(context, carrier: Record<string, string>) {
      received = { ...carrier };
      return context;
    },
    fields: () => [],
  });
  await using server = await startServer({ tracing: true }, (s) => {
    s.registerFunction(() => 1, { name: "one" });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { tracing: true });
  assert.equal(await rpc.one(), 1);
  assert.deepEqual(Object.keys(received ?? {}), ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]);
});

test("tracing: the synchronous client refuses the option clearly", () => {
  assert.throws(
    () => new RPC("tcp://admin:admin@127.0.0.1:1", { tracing: true }),
    /tracing is for AsyncRPC/,
  );
});
