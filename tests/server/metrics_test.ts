/**
 * server.metrics() and the metricsPort listener, over real connections: known calls, then the
 * text parsed strictly (tests/exposition.ts) and its figures checked.
 */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { AsyncRPC, MprpcError, Server } from "../../mod.ts";
import { deferred, LogRecorder, startServer, urlOf, WireClient } from "../helpers.ts";
import { checkHistograms, parseExposition, samples, valueOf } from "../exposition.ts";
import { Code } from "../../src/protocol/messages.ts";
import { EXPOSITION_CONTENT_TYPE } from "../../src/metrics/exposition.ts";

const HANDLERS = new URL("../fixtures/handlers.ts", import.meta.url);

function setup(server: Server): void {
  server.registerIntrospectionFunctions();
  server.registerFunction(function add(a: number, b: number) {
    return a + b;
  });
  server.registerFunction(function fail() {
    throw new Error("on purpose");
  });
  server.registerFunction(async function* count(n: number) {
    for (let i = 0; i < n; i++) yield i;
  });
}

function metricsOf(server: Server) {
  const families = parseExposition(server.metrics());
  checkHistograms(families);
  return families;
}

// The code a rejected call was answered with.
async function codeOf(call: Promise<unknown>): Promise<number> {
  const err = await call.then(() => assert.fail("the call should fail"), (err) => err);
  assert.ok(err instanceof MprpcError, String(err));
  return err.code;
}

test("metrics: a synchronous handler's duration is the time it ran, though it ends in the run it started in", async () => {
  await using server = await startServer({}, (s) => {
    s.registerFunction(function busy(ms: number) {
      const until = performance.now() + ms;
      while (performance.now() < until); // CPU work, all within one run of JavaScript
      return ms;
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.equal(await rpc.busy(30), 30);
  const metrics = metricsOf(server);
  const seconds = valueOf(metrics, "mprpc_call_duration_seconds_sum", { method: "busy" });
  assert.ok(seconds >= 0.03, `${seconds} s`);
  assert.equal(
    valueOf(metrics, "mprpc_call_duration_seconds_bucket", { method: "busy", le: "0.025" }),
    0,
  );
});

test("metrics: calls counted by method and last status code; unknown methods share one label; durations in a histogram", async () => {
  await using server = await startServer({}, setup);
  await using rpc = await AsyncRPC.connect(urlOf(server));
  for (let i = 0; i < 3; i++) assert.equal(await rpc.add(i, 1), i + 1);
  const failed = await codeOf(rpc.fail());
  const unknown = await codeOf(rpc.call("no.such.method"));
  assert.equal(await codeOf(rpc.call("other-unknown")), unknown);
  const unsupported = await codeOf(rpc.call("system.nothing"));
  const items = [];
  for await (const item of await rpc.count(3)) items.push(item);
  assert.deepEqual(items, [0, 1, 2]);
  await rpc.system.listMethods();

  const metrics = metricsOf(server);
  const calls = metrics.get("mprpc_calls_total")!;
  assert.equal(calls.type, "counter");
  assert.ok(calls.help.length > 0);
  const count = (method: string, code: number) =>
    valueOf(metrics, "mprpc_calls_total", { method, code: String(code) });
  assert.equal(count("add", Code.RESULT), 3);
  assert.equal(count("fail", failed), 1);
  assert.equal(count("(unknown)", unknown), 2);
  assert.equal(count("(unknown)", unsupported), 1, "system.* names the server lacks are unknown");
  assert.equal(count("count", Code.STREAM_END), 1, "a stream ends with its last answer's code");
  assert.equal(count("system.listMethods", Code.RESULT), 1);
  assert.deepEqual(
    [...new Set(calls.samples.map((sample) => sample.labels.method))].sort(),
    ["(unknown)", "add", "count", "fail", "system.listMethods"],
    "no label for a method name the server does not have",
  );

  const durations = metrics.get("mprpc_call_duration_seconds")!;
  assert.equal(durations.type, "histogram");
  for (const method of ["add", "fail", "(unknown)", "count", "system.listMethods"]) {
    const total = samples(metrics, "mprpc_calls_total", { method })
      .reduce((sum, sample) => sum + sample.value, 0);
    assert.equal(valueOf(metrics, "mprpc_call_duration_seconds_count", { method }), total);
    assert.ok(valueOf(metrics, "mprpc_call_duration_seconds_sum", { method }) >= 0);
  }
  assert.equal(valueOf(metrics, "mprpc_connections"), 1);
  assert.equal(valueOf(metrics, "mprpc_calls_in_flight"), 0);
  assert.equal(metrics.get("mprpc_connections")!.type, "gauge");
});

test("metrics: a method called before it is registered counts as unknown, then under its own name", async () => {
  await using server = await startServer({}, setup);
  await using rpc = await AsyncRPC.connect(urlOf(server));
  const unknown = await codeOf(rpc.call("late"));
  assert.equal(await codeOf(rpc.call("late")), unknown); // twice in a row, as calls come
  server.registerFunction(function late() {
    return "here";
  });
  assert.equal(await rpc.call("late"), "here");
  assert.equal(await rpc.call("late"), "here");
  const metrics = metricsOf(server);
  const count = (method: string, code: number) =>
    valueOf(metrics, "mprpc_calls_total", { method, code: String(code) });
  assert.equal(count("(unknown)", unknown), 2);
  assert.equal(count("late", Code.RESULT), 2);
});

test("metrics: a stream cut short by its reader counts as code none, not as its last item's 202", async () => {
  const server = await startServer({}, (s) => {
    s.registerFunction(async function* endless() {
      for (let i = 0;; i++) yield i;
    });
  });
  try {
    await using rpc = await AsyncRPC.connect(urlOf(server));
    for await (const item of await rpc.endless()) if (item === 2) break;
  } finally {
    await server.close(); // every call is over once it resolves
  }
  const metrics = metricsOf(server);
  assert.equal(valueOf(metrics, "mprpc_calls_total", { method: "endless", code: "none" }), 1);
  assert.deepEqual(samples(metrics, "mprpc_calls_total", { method: "endless" }).length, 1);
});

test("metrics: a call refused before it runs counts with its code and no duration; a RETURN: false call with code none", async () => {
  await using server = await startServer({}, setup);
  const wire = await WireClient.open(server.addr.port);
  try {
    assert.equal((await wire.login())?.CODE, Code.HANDSHAKE);
    await wire.send({ MPRPC: "0.1", ID: "1", METHOD: "add", RETURN: true, ARGS: "not a list" });
    const refused = await wire.next();
    assert.equal(refused?.CODE, Code.REQUEST_ERROR);
    await wire.call("2", "add", [1, 2]);
    assert.equal((await wire.next())?.CODE, Code.RESULT);
    // RETURN: false: no answer is sent for the call itself (code "none"); getresult has one.
    await wire.call("3", "add", [2, 2], { RETURN: false });
    await wire.call("4", "system.getresult", ["3"]);
    assert.deepEqual((await wire.next())?.MESSAGE, { ID: "4", RESULT: 4 });
    const metrics = metricsOf(server);
    const count = (code: number) =>
      valueOf(metrics, "mprpc_calls_total", { method: "add", code: String(code) });
    assert.equal(count(Code.REQUEST_ERROR), 1);
    assert.equal(count(Code.RESULT), 1);
    assert.equal(valueOf(metrics, "mprpc_calls_total", { method: "add", code: "none" }), 1);
    assert.equal(valueOf(metrics, "mprpc_call_duration_seconds_count", { method: "add" }), 2);
    const getresult = { method: "system.getresult", code: String(Code.RESULT) };
    assert.equal(valueOf(metrics, "mprpc_calls_total", getresult), 1);
  } finally {
    wire.close();
  }
});

test("metrics: the bytes read are exactly the bytes the client sent; both counts grow with each call", async () => {
  await using server = await startServer({}, setup);
  const wire = await WireClient.open(server.addr.port);
  try {
    let sent = wire.frame({ MPRPC: "0.1", AUTH: { USERNAME: "admin", PASSWORD: "admin" } }).length;
    assert.equal((await wire.login())?.CODE, Code.HANDSHAKE);
    const before = metricsOf(server);
    assert.equal(valueOf(before, "mprpc_received_bytes_total"), sent);
    const written = valueOf(before, "mprpc_sent_bytes_total");
    assert.ok(written > 0, "the handshake's answer");

    const call = wire.callFrame("1", "add", [1, 2]);
    await wire.sendRaw(call);
    sent += call.length;
    assert.equal((await wire.next())?.CODE, Code.RESULT);
    const after = metricsOf(server);
    assert.equal(valueOf(after, "mprpc_received_bytes_total"), sent);
    assert.ok(valueOf(after, "mprpc_sent_bytes_total") > written);
    assert.equal(after.get("mprpc_sent_bytes_total")!.type, "counter");
  } finally {
    wire.close();
  }
});

test("metrics: the connections gauge follows connections as they open and close", async () => {
  const log = new LogRecorder();
  await using server = await startServer({ accessLog: true, logger: log }, setup);
  await using first = await AsyncRPC.connect(urlOf(server));
  const second = await AsyncRPC.connect(urlOf(server));
  assert.equal(valueOf(metricsOf(server), "mprpc_connections"), 2);
  const closed = log.next("close");
  await second.close();
  await closed;
  await first.add(1, 1); // a round trip: the server has forgotten the closed session by then
  assert.equal(valueOf(metricsOf(server), "mprpc_connections"), 1);
});

test("metrics: calls in flight, and the pool's busy workers and queued calls, while pool calls run", async () => {
  const channel = new BroadcastChannel("mprpc-pool-test");
  const started = deferred();
  channel.onmessage = () => started.resolve();
  try {
    await using server = await startServer({ workers: 1 }, (s) => s.registerModule(HANDLERS));
    await using rpc = await AsyncRPC.connect(urlOf(server));
    const held = rpc.hold("m");
    const queued = rpc.add(1, 2); // sent in the same write as hold: queued when hold starts
    await started.promise;
    const busy = metricsOf(server);
    assert.equal(valueOf(busy, "mprpc_pool_busy_workers"), 1);
    assert.equal(valueOf(busy, "mprpc_pool_queued_calls"), 1);
    assert.equal(valueOf(busy, "mprpc_calls_in_flight"), 2);
    channel.postMessage("release m");
    assert.deepEqual(await Promise.all([held, queued]), ["m", 3]);
    const idle = metricsOf(server);
    assert.equal(valueOf(idle, "mprpc_pool_busy_workers"), 0);
    assert.equal(valueOf(idle, "mprpc_pool_queued_calls"), 0);
    assert.equal(valueOf(idle, "mprpc_calls_total", { method: "hold", code: "200" }), 1);
  } finally {
    channel.close();
  }
});

test("metricsPort: GET /metrics over HTTP is the exposition; other paths 404, other methods 405; closed with the server", async () => {
  const server = await startServer({ metricsPort: 0 }, setup);
  let url: string;
  try {
    assert.equal(server.metricsAddr?.hostname, "127.0.0.1");
    assert.notEqual(server.metricsAddr?.port, 0);
    url = `http://127.0.0.1:${server.metricsAddr!.port}`;
    await using rpc = await AsyncRPC.connect(urlOf(server));
    await rpc.add(1, 2);

    const scraped = await fetch(`${url}/metrics`);
    assert.equal(scraped.status, 200);
    assert.equal(scraped.headers.get("content-type"), EXPOSITION_CONTENT_TYPE);
    const metrics = parseExposition(await scraped.text());
    assert.equal(valueOf(metrics, "mprpc_calls_total", { method: "add", code: "200" }), 1);
    assert.equal(valueOf(metrics, "mprpc_connections"), 1);

    const missing = await fetch(`${url}/other`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
    const posted = await fetch(`${url}/metrics`, { method: "POST", body: "x" });
    await posted.body?.cancel();
    assert.equal(posted.status, 405);
    assert.equal(posted.headers.get("allow"), "GET, HEAD");
  } finally {
    await server.close();
  }
  await assert.rejects(fetch(`${url}/metrics`), "nothing listens after close()");
});

test("metricsPort: checked; without it there is no listener, and metrics() still works", async () => {
  for (const metricsPort of [-1, 65536, 1.5, "9100"]) {
    assert.throws(
      () => new Server({ port: 0, metricsPort: metricsPort as number }),
      /metricsPort must be an integer from 0 to 65535/,
    );
  }
  await using server = await startServer({}, setup);
  assert.equal(server.metricsAddr, undefined);
  assert.ok(server.metrics().includes("# TYPE mprpc_calls_total counter\n"));
});

test("metricsPort: a port that cannot be bound makes listen() reject and leaves nothing open", async () => {
  await using taken = await startServer({ metricsPort: 0 });
  const server = new Server({ port: 0, metricsPort: taken.metricsAddr!.port });
  await assert.rejects(server.listen(), /cannot serve metrics on 127\.0\.0\.1:\d+/);
  await server.close();
});
