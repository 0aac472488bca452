/**
 * Flow control, cancellation and deadlines (docs/extensions.md: cancel, deadline, credit), over
 * real sockets: what a slow, hostile or impatient peer can and cannot make the server do.
 */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { AsyncRPC, callContext, type Server, TimeoutException } from "../../mod.ts";
import { collect, concat, deferred, startServer, urlOf, WireClient } from "../helpers.ts";

type Message = Record<string, unknown>;
const body = (m: Message | undefined) => m?.MESSAGE as Message;
const ALL = ["len32", "cancel", "deadline", "credit"];

// A wire client logged in with `extensions` (none: a pymprpc-like peer).
async function wireClient(server: Server, extensions?: string[]): Promise<WireClient> {
  const client = await WireClient.open(server.addr.port);
  const reply = await client.login("admin", "admin", extensions);
  assert.equal(reply?.CODE, 100);
  client.length32 = extensions?.includes("len32") ?? false;
  return client;
}

test("backpressure: past maxCallsPerConnection calls wait for their turn", async () => {
  const gate = deferred();
  let started = 0;
  await using server = await startServer({ maxCallsPerConnection: 4 }, (s) => {
    s.registerIntrospectionFunctions();
    s.registerFunction(function hold() {
      started++;
      return gate.promise.then(() => "done");
    });
  });
  const rogue = await wireClient(server);
  try {
    // Ten calls in one write: one read on the server.
    await rogue.sendRaw(
      concat(Array.from({ length: 10 }, (_, i) => rogue.callFrame(`h${i}`, "hold"))),
    );
    await using other = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
    assert.equal(await other.system.lenUndoneTasks(), 5, "four held calls, and this one");
    assert.equal(started, 4);
    gate.resolve();
    const ids = new Set<unknown>();
    for (let i = 0; i < 10; i++) ids.add(body(await rogue.next()).ID);
    assert.equal(ids.size, 10, "every call ran once there was room");
    assert.equal(started, 10);
  } finally {
    rogue.close();
  }
});

test("backpressure: a client that never reads its answers stops being read; others are served", async () => {
  let ran = 0;
  await using server = await startServer({}, (s) => {
    s.registerFunction(function big() {
      ran++;
      return "y".repeat(1024 * 1024);
    });
    s.registerFunction(function add(a: number, b: number) {
      return a + b;
    });
  });
  const rogue = await wireClient(server);
  try {
    // 200 calls for 1 MiB answers each, in one small write; the rogue never reads.
    await rogue.sendRaw(
      concat(Array.from({ length: 200 }, (_, i) => rogue.callFrame(`b${i}`, "big"))),
    );
    await using other = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
    for (let i = 0; i < 20; i++) assert.equal(await other.add(i, 1), i + 1);
    // Without backpressure all 200 would have run in the read that brought them: 200 MiB queued.
    assert.ok(ran < 100, `${ran} of 200 calls ran while their answers were not read`);
  } finally {
    rogue.close();
  }
});

test("cancel: breaking out of a stream runs the server generator's finally", async () => {
  const finalized = deferred();
  await using server = await startServer({}, (s) => {
    s.registerFunction(async function* forever() {
      try {
        for (let i = 0;; i++) yield i;
      } finally {
        finalized.resolve();
      }
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
  for await (const item of await rpc.forever()) if (item === 3) break;
  await finalized.promise;
});

test("cancel: an aborted signal rejects with its reason and aborts the handler's signal", async () => {
  const started = deferred();
  const aborted = deferred<unknown>();
  await using server = await startServer({}, (s) => {
    s.registerFunction(function wait() {
      const { signal } = callContext();
      signal.addEventListener("abort", () => aborted.resolve(signal.reason));
      started.resolve();
      return new Promise((resolve) => signal.addEventListener("abort", resolve));
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
  const controller = new AbortController();
  const call = rpc.call("wait", [], {}, { signal: controller.signal });
  await started.promise;
  controller.abort(new Error("changed my mind"));
  await assert.rejects(call, /changed my mind/);
  assert.match(String(await aborted.promise), /cancelled/);
  assert.equal(
    await rpc.with({ timeout: 5 }).call("wait", [], {}, {
      signal: AbortSignal.abort(new Error("too late")),
    }).catch((e: Error) => e.message),
    "too late",
    "an aborted signal sends nothing",
  );
});

test("deadline: a call timeout travels to the server, which aborts the handler and answers 504", async () => {
  const seen = deferred<{ deadline?: number; now: number }>();
  const aborted = deferred();
  await using server = await startServer({}, (s) => {
    s.registerFunction(function slow() {
      const { deadline, signal } = callContext();
      seen.resolve({ deadline, now: Date.now() });
      signal.addEventListener("abort", () => aborted.resolve());
      return new Promise((resolve) => signal.addEventListener("abort", resolve));
    });
  });
  const client = await wireClient(server, ALL);
  try {
    await client.call("d", "slow", [], { DEADLINE: 50 });
    const { deadline, now } = await seen.promise;
    assert.ok(deadline !== undefined && deadline - now <= 50 && deadline - now > 0);
    const reply = await client.next();
    assert.equal(reply?.CODE, 504);
    assert.deepEqual([body(reply).ID, body(reply).EXCEPTION], ["d", "DeadlineExceeded"]);
    await aborted.promise;
  } finally {
    client.close();
  }
});

test("credit: a stream is advanced only as far as the client granted", async () => {
  let produced = 0;
  await using server = await startServer({}, (s) => {
    s.registerFunction(async function* count(n: number) {
      for (let i = 0; i < n; i++) {
        produced++;
        yield i;
      }
    });
  });
  // 16 items of at most 64 bytes each (small items count 64: MIN_ITEM_CHARGE).
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0, streamBuffer: 16 * 64 });
  const items = await rpc.count(1000);
  await using other = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
  for (let i = 0; i < 10; i++) await other.count(0); // the server goes round its loop meanwhile
  assert.ok(produced > 0 && produced <= 16, `${produced} items sent before any was read`);
  const all = await collect(items as AsyncIterable<number>);
  assert.deepEqual(all, Array.from({ length: 1000 }, (_, i) => i), "every item, in order");
});

test("extensions: control messages and fields a connection did not negotiate are refused clearly", async () => {
  await using server = await startServer({}, (s) => {
    s.registerFunction(function add(a: number, b: number) {
      return a + b;
    });
  });
  const plain = await wireClient(server);
  try {
    await plain.send({ MPRPC: "0.1", CANCEL: "x" });
    assert.equal((await plain.next())?.CODE, 506);
    await plain.send({ MPRPC: "0.1", CREDIT: { ID: "x", ITEMS: 5 } });
    assert.equal((await plain.next())?.CODE, 506);
    await plain.call("d", "add", [1, 2], { DEADLINE: 1000 });
    const refused = await plain.next();
    assert.deepEqual([refused?.CODE, body(refused).ID], [400, "d"]);
    assert.match(String(body(refused).MESSAGE), /needs the 'deadline' extension/);
    await plain.call("ok", "add", [1, 2]);
    assert.deepEqual(body(await plain.next()), { ID: "ok", RESULT: 3 }, "nothing was lost");
  } finally {
    plain.close();
  }
});

test("timeout: a client-side timeout rejects with TimeoutException and stops the handler", async () => {
  const aborted = deferred();
  await using server = await startServer({}, (s) => {
    s.registerFunction(function slow() {
      const { signal } = callContext();
      signal.addEventListener("abort", () => aborted.resolve());
      return new Promise((resolve) => signal.addEventListener("abort", resolve));
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
  await assert.rejects(rpc.with({ timeout: 0.05 }).slow(), TimeoutException);
  await aborted.promise;
  assert.equal(
    await rpc.with({ timeout: 5 }).call("slow", [], {}, { timeout: 0.01 }).catch((e) =>
      e.constructor.name
    ),
    "TimeoutException",
    "a call's own option wins over the view's",
  );
});

test("credit: the window is counted in bytes, so large items stay within streamBuffer", async () => {
  let produced = 0;
  await using server = await startServer({}, (s) => {
    s.registerFunction(async function* blobs(n: number) {
      for (let i = 0; i < n; i++) {
        produced++;
        yield new Uint8Array(16 * 1024).fill(i);
      }
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), {
    heartbeat: 0,
    streamBuffer: 64 * 1024,
  });
  let read = 0;
  let most = 0;
  for await (const blob of await rpc.blobs(200) as AsyncIterable<Uint8Array>) {
    assert.equal(blob[0], read++ % 256, "in order");
    // A slow reader: the server gets a turn to send whatever the window allows.
    await new Promise((resolve) => setTimeout(resolve, 0));
    most = Math.max(most, produced - read);
  }
  assert.equal(read, 200);
  // 64 KiB is 4 items of 16 KiB, and the server may start a fifth while the window has room.
  assert.ok(most <= 5, `the server ran ${most} items ahead of the reader`);
});

test("backpressure: streams waiting for credit do not stop the connection; past 3 x the limit, 503", async () => {
  await using server = await startServer({ maxCallsPerConnection: 1 }, (s) => {
    s.registerFunction(async function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
  });
  const client = await wireClient(server, ALL);
  const open = async (id: string) => {
    await client.call(id, "count", [10], { CREDIT: 1 }); // one item, then wait for credit
    assert.deepEqual([(await client.next())?.CODE, (await client.next())?.CODE], [201, 202]);
  };
  try {
    await open("a");
    await open("b");
    // The server still reads: a grant gets through, and the stream moves on to its end.
    await client.send({ MPRPC: "0.1", CREDIT: { ID: "a", BYTES: 100_000 } });
    for (let i = 1; i < 10; i++) assert.equal((await client.next())?.CODE, 202);
    assert.equal((await client.next())?.CODE, 206);
    await open("c");
    await open("d");
    await client.call("e", "count", [10], { CREDIT: 1 });
    const refused = await client.next();
    assert.deepEqual([refused?.CODE, body(refused).ID], [503, "e"], "b, c, d: 3 x 1 open");
    for (const id of ["b", "c", "d"]) await client.send({ MPRPC: "0.1", CANCEL: id });
  } finally {
    client.close();
  }
});

test("backpressure: a call waiting for its turn can be cancelled, and then never runs", async () => {
  const gate = deferred();
  const ran: string[] = [];
  await using server = await startServer({ maxCallsPerConnection: 1 }, (s) => {
    s.registerFunction(function hold(tag: string) {
      ran.push(tag);
      return gate.promise.then(() => tag);
    });
  });
  const client = await wireClient(server, ALL);
  try {
    await client.call("h1", "hold", ["h1"]);
    await client.call("h2", "hold", ["h2"]); // waits for its turn
    await client.send({ MPRPC: "0.1", CANCEL: "h2" }); // read although the call limit is reached
    await client.call("h3", "hold", ["h3"]);
    gate.resolve();
    assert.deepEqual(body(await client.next()), { ID: "h1", RESULT: "h1" });
    assert.deepEqual(body(await client.next()), { ID: "h3", RESULT: "h3" });
    assert.deepEqual(ran, ["h1", "h3"]);
  } finally {
    client.close();
  }
});

test("backpressure: a connection not read for want of room still closes with the server", async () => {
  const server = await startServer({ maxCallsPerConnection: 1, gracePeriod: 0.05 }, (s) => {
    s.registerFunction(function hang() {
      return new Promise(() => {}); // ignores its signal: only the grace period ends it
    });
  });
  const client = await wireClient(server);
  try {
    // One runs, two wait for a turn, and the fourth is not read.
    for (const id of ["a", "b", "c", "d"]) await client.call(id, "hang");
    await server.close();
    assert.equal(await client.next(), undefined, "the connection was closed");
  } finally {
    client.close();
  }
});

test("credit: with compression both sides count the same bytes, so concurrent streams never stall", async () => {
  await using server = await startServer({ compression: "zlib" }, (s) => {
    s.registerFunction(async function* text(n: number) {
      for (let i = 0; i < n; i++) yield `${i} `.repeat(200);
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), {
    heartbeat: 0,
    compression: "zlib",
    streamBuffer: 4096,
  });
  // Four streams at once on one connection: a miscount would leave one waiting for credit forever.
  const all = await Promise.all([0, 1, 2, 3].map(async () => {
    const items = await collect(await rpc.text(300) as AsyncIterable<string>);
    return items.length;
  }));
  assert.deepEqual(all, [300, 300, 300, 300]);
});

test("backpressure: streams that waited for a turn and now wait for credit leave the connection read", async () => {
  await using server = await startServer({ maxCallsPerConnection: 1 }, (s) => {
    s.registerFunction(async function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
  });
  const client = await wireClient(server, ALL);
  try {
    const frames = ["a", "b", "c"].map((id) => client.callFrame(id, "count", [10], { CREDIT: 1 }));
    await client.sendRaw(concat(frames));
    for (let i = 0; i < 6; i++) assert.ok([201, 202].includes(Number((await client.next())?.CODE)));
    await client.send({ MPRPC: "0.1", HEARTBEAT: "ping" });
    assert.equal((await client.next())?.CODE, 101, "still read");
  } finally {
    client.close();
  }
});

test("backpressure: a long queue of calls that answer at once starts without deep recursion", async () => {
  const gate = deferred();
  const holding = deferred();
  let held = 0;
  await using server = await startServer({}, (s) => {
    s.registerFunction(function hold() {
      if (++held === 1024) holding.resolve();
      return gate.promise.then(() => "held");
    });
    s.registerFunction(function add(a: number, b: number) {
      return a + b;
    });
  });
  const client = await wireClient(server);
  try {
    // 1024 calls run (the default limit) and 2047 wait for a turn.
    const holds = Array.from({ length: 1024 }, (_, i) => client.callFrame(`h${i}`, "hold"));
    const adds = Array.from({ length: 2047 }, (_, i) => client.callFrame(`a${i}`, "add", [i, 1]));
    await client.sendRaw(concat([...holds, ...adds]));
    await holding.promise;
    gate.resolve();
    let answered = 0;
    for (let i = 0; i < 1024 + 2047; i++) if ((await client.next())?.CODE === 200) answered++;
    assert.equal(answered, 3071);
  } finally {
    client.close();
  }
});

test("backpressure: a graceful close refuses calls still waiting for a turn with 503", async () => {
  const gate = deferred();
  const started = deferred();
  const server = await startServer({ maxCallsPerConnection: 1 }, (s) => {
    s.registerFunction(function slow() {
      started.resolve();
      return gate.promise.then(() => "done");
    });
  });
  const client = await wireClient(server);
  try {
    await client.sendRaw(concat([client.callFrame("a", "slow"), client.callFrame("b", "slow")]));
    await started.promise;
    const closing = server.close();
    const refused = await client.next();
    assert.deepEqual([refused?.CODE, body(refused).ID], [503, "b"]);
    gate.resolve();
    assert.deepEqual(body(await client.next()), { ID: "a", RESULT: "done" });
    await closing;
  } finally {
    client.close();
  }
});
