import assert from "node:assert/strict";
import { makeTempFile, removeFile, runtime, test, writeTextFile } from "../test_platform.deno.ts";
import {
  AsyncRPC,
  type CallContext,
  NotFindError,
  ParamError,
  RPCRuntimeError,
  RpcUnavailableException,
  type Server,
} from "../../mod.ts";
import { WorkerPool } from "../../src/pool/worker_pool.ts";
import { STREAM_WINDOW } from "../../src/pool/worker_messages.ts";
import type { ItemStream } from "../../src/call/item_stream.ts";
import {
  collect,
  deferred,
  LogRecorder,
  silentLogger,
  startServer,
  urlOf,
  WireClient,
} from "../helpers.ts";
import { installFakeClock } from "../test_deps.ts";
import { ABORTS_CHANNEL } from "../fixtures/context_handlers.ts";

const HANDLERS = new URL("../fixtures/handlers.ts", import.meta.url);
const CONTEXT_HANDLERS = new URL("../fixtures/context_handlers.ts", import.meta.url);
const REFUSING = new URL("../fixtures/refusing_handlers.ts", import.meta.url);

/** A call context as the server would pass it, for tests that drive the pool directly. */
function contextOf(signal: AbortSignal, method = "m"): CallContext {
  return { id: "1", method, peer: "127.0.0.1:1", user: "admin", signal };
}

/** Resolves once `tag`'s call has seen its worker-side signal abort. */
function abortReported(tag: string): { seen: Promise<void>; close(): void } {
  const channel = new BroadcastChannel(ABORTS_CHANNEL);
  const seen = deferred();
  channel.onmessage = (event) => event.data === `aborted ${tag}` && seen.resolve();
  return { seen: seen.promise, close: () => channel.close() };
}

async function withPool(
  body: (rpc: Awaited<ReturnType<typeof AsyncRPC.connect>>, server: Server) => Promise<void>,
  workers = 2,
  setup: (server: Server) => void = () => {},
): Promise<void> {
  await using server = await startServer({ workers }, (s) => {
    s.registerModule(HANDLERS);
    setup(s);
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
  await body(rpc, server);
}

test("pool: plain, async and generator exports run in workers", async () => {
  await withPool(async (rpc) => {
    assert.equal(await rpc.add(2, 3), 5);
    assert.equal(await rpc.mul(4), 8);
    assert.deepEqual(await collect(await rpc.count(4)), [0, 1, 2, 3]);
    assert.equal(await rpc.busy(1), "worker");
  });
});

test("pool: kwargs bind, bad arguments are 402, throws are 404 with the class name", async () => {
  await withPool(async (rpc) => {
    assert.equal(await rpc.call("mul", [], { a: 3, b: 5 }), 15);
    await assert.rejects(rpc.add(1), ParamError);
    await assert.rejects(rpc.call("add", [1, 2], { c: 3 }), ParamError);
    const err = await rpc.fails().catch((e: RPCRuntimeError) => e);
    assert.ok(err instanceof RPCRuntimeError);
    assert.equal(err.exception, "RangeError");
    assert.equal(err.message, "out of range in a worker");
    assert.equal(err.data?.FRAME, undefined, "no stack outside debug mode");
    await assert.rejects(rpc.nope(), NotFindError);
  });
});

test("pool: introspection shows declared signatures and JSDoc help", async () => {
  await withPool(
    async (rpc) => {
      assert.equal(await rpc.system.methodSignature("mul"), "(a, b = 2)");
      assert.equal(await rpc.system.methodHelp("mul"), "Multiplies after a tick.");
      assert.equal(await rpc.system.methodHelp("add"), "Adds two numbers.");
      assert.ok((await rpc.system.listMethods()).includes("count"));
    },
    1,
    (s) => s.registerIntrospectionFunctions(),
  );
});

test("pool: a prefix and the inline executor", async () => {
  await using server = await startServer({ workers: 1 }, (s) => {
    s.registerModule(HANDLERS, { prefix: "w" });
    s.registerModule(HANDLERS, { executor: "inline", prefix: "i" });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.equal(await rpc.w.busy(1), "worker");
  assert.equal(await rpc.i.busy(1), "main");
  assert.equal(await rpc.i.add(1, 2), 3);
});

test("pool: the same module registered twice under two prefixes serves both", async () => {
  await using server = await startServer({ workers: 1 }, (s) => {
    s.registerModule(HANDLERS, { prefix: "a" });
    s.registerModule(HANDLERS, { prefix: "b" });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.equal(await rpc.a.add(1, 2), 3);
  assert.equal(await rpc.b.add(3, 4), 7);
});

test("pool: binary results arrive intact, and a cached buffer survives being sent", async () => {
  await withPool(async (rpc) => {
    assert.deepEqual(await rpc.bytes(), new Uint8Array([1, 2, 3, 4]));
    assert.deepEqual(await rpc.bytes(), new Uint8Array([1, 2, 3, 4]));
    const big = crypto.getRandomValues(new Uint8Array(65536));
    assert.deepEqual(await rpc.echo({ nested: [big] }), { nested: [big] });
  });
});

test("pool: a result structured clone cannot copy is a clear error for that call", async () => {
  await withPool(async (rpc) => {
    await assert.rejects(
      rpc.unclonable(),
      (err: RPCRuntimeError) => err.exception === "DataCloneError",
    );
    assert.equal(await rpc.add(1, 1), 2);
  }, 1);
});

test("pool: a fast call after a CPU-bound one is answered first, and pings are answered meanwhile", async () => {
  await using server = await startServer({ workers: 1 }, (s) => {
    s.registerModule(HANDLERS);
    s.registerFunction(function inlineFast() {
      return "fast";
    });
  });
  const client = await WireClient.open(server.addr.port);
  try {
    await client.login();
    await client.call("slow", "busy", [1000]);
    await client.call("fast", "inlineFast");
    const first = await client.next();
    assert.deepEqual((first?.MESSAGE as Record<string, unknown>).ID, "fast");
    await client.send({ MPRPC: "0.1", HEARTBEAT: "ping" });
    assert.equal((await client.next())?.CODE, 101, "the event loop is free while the worker spins");
    const last = await client.next();
    assert.deepEqual(last?.MESSAGE, { ID: "slow", RESULT: "worker" });
  } finally {
    client.close();
  }
});

test("pool: a worker that throws at top level fails only its call and is replaced (Deno prints its 'Uncaught (in worker)' line)", async () => {
  await withPool(async (rpc) => {
    const err = await rpc.crash().catch((e: RPCRuntimeError) => e);
    assert.ok(err instanceof RPCRuntimeError);
    assert.equal(err.exception, "WorkerDied");
    assert.match(err.message, /the worker running 'crash' died .*uncaught in a worker/);
    assert.deepEqual(await Promise.all([rpc.add(1, 1), rpc.add(2, 2), rpc.add(3, 3)]), [2, 4, 6]);
  }, 1);
});

test("pool: a worker that ends itself fails only its call and is replaced", async () => {
  await withPool(async (rpc) => {
    // Deno: self.close(); Node: process.exit(). Each is reported as the worker dying.
    await assert.rejects(
      rpc.quit(),
      (err: RPCRuntimeError) => err.exception === "WorkerDied" && /'quit' died/.test(err.message),
    );
    assert.equal(await rpc.add(4, 4), 8);
  }, 1);
});

test("pool: N calls run at once in N workers; the next one waits in the queue", async () => {
  const pool = new WorkerPool({ size: 2, urls: [HANDLERS.href], logger: silentLogger });
  await pool.start();
  const channel = new BroadcastChannel("mprpc-pool-test");
  const started: string[] = [];
  let twoStarted = deferred();
  channel.onmessage = (event) => {
    started.push(event.data);
    if (started.length === 2) twoStarted.resolve();
  };
  try {
    const calls = ["a", "b", "c"].map((tag) => pool.run(HANDLERS.href, "hold", [tag]));
    await twoStarted.promise;
    assert.deepEqual(started.sort(), ["started a", "started b"]);
    assert.equal(pool.running, 2);
    assert.equal(pool.queued, 1);
    twoStarted = deferred();
    channel.postMessage("release a");
    assert.equal(await calls[0], "a");
    channel.postMessage("release b");
    assert.equal(await calls[1], "b");
    await new Promise<void>((resolve) => {
      const check = () => started.includes("started c") ? resolve() : undefined;
      channel.onmessage = (event) => (started.push(event.data), check());
      check();
    });
    channel.postMessage("release c");
    assert.equal(await calls[2], "c");
  } finally {
    channel.close();
    await pool.close();
  }
});

test("pool: queued calls of a connection that closes are dropped", async () => {
  const pool = new WorkerPool({ size: 1, urls: [HANDLERS.href], logger: silentLogger });
  await pool.start();
  const channel = new BroadcastChannel("mprpc-pool-test");
  const started = deferred();
  channel.onmessage = () => started.resolve();
  try {
    const running = pool.run(HANDLERS.href, "hold", ["x"]);
    await started.promise;
    const connection = new AbortController();
    const queued = pool.run(HANDLERS.href, "add", [1, 2], contextOf(connection.signal));
    assert.equal(pool.queued, 1);
    connection.abort();
    await assert.rejects(queued, /disconnected before the call started/);
    assert.equal(pool.queued, 0);
    channel.postMessage("release x");
    assert.equal(await running, "x");
  } finally {
    channel.close();
    await pool.close();
  }
});

test("pool: lenUndoneTasks counts queued and running pool calls", async () => {
  const channel = new BroadcastChannel("mprpc-pool-test");
  const started = deferred();
  channel.onmessage = () => started.resolve();
  try {
    await withPool(
      async (rpc) => {
        const held = rpc.hold("t");
        const queued = rpc.add(1, 2);
        await started.promise;
        assert.equal(await rpc.system.lenUndoneTasks(), 3, "held, queued, and this call");
        channel.postMessage("release t");
        assert.deepEqual(await Promise.all([held, queued]), ["t", 3]);
      },
      1,
      (s) => s.registerIntrospectionFunctions(),
    );
  } finally {
    channel.close();
  }
});

test("pool: a module that fails to load makes listen() reject, and leaks no worker", async () => {
  const server = (await import("../../mod.ts")).Server;
  const bad = new server({ port: 0, workers: 1 });
  bad.registerModule(new URL("../fixtures/does_not_exist.js", import.meta.url));
  await assert.rejects(bad.listen(), RPCRuntimeError);
  await bad.close();
});

test("pool: workerMemoryLimit is refused where the platform cannot honour it, or honoured", async () => {
  const { Server } = await import("../../mod.ts");
  const server = new Server({ port: 0, workers: 1, workerMemoryLimit: 64 });
  server.registerModule(HANDLERS);
  try {
    await server.listen();
    assert.equal(runtime().name.startsWith("Node"), true, "only Node can limit a worker's heap");
  } catch (err) {
    assert.match(String(err), /workerMemoryLimit is not supported on Deno/);
  } finally {
    await server.close();
  }
});

/** A pool of one worker whose replacements refuse to load while `marker` exists. */
async function refusingPool(log: LogRecorder) {
  const marker = await makeTempFile();
  await removeFile(marker);
  const url = `${REFUSING.href}?marker=${encodeURIComponent(marker.href)}`;
  const pool = new WorkerPool({ size: 1, urls: [url], logger: log });
  await pool.start();
  return {
    pool,
    url,
    marker,
    /** Makes replacements refuse to load, and kills the worker. */
    async breakIt() {
      await writeTextFile(marker, "replacements refuse to load");
      await assert.rejects(pool.run(url, "quit", []), /'quit' died/);
    },
    async [Symbol.asyncDispose]() {
      await pool.close();
      await removeFile(marker);
    },
  };
}

function isOutage(err: Error): boolean {
  return err instanceof RpcUnavailableException &&
    /the worker pool has no workers/.test(err.message) && /refusing to load/.test(err.message);
}

test("pool: a replacement that cannot load makes calls fail at once, until one loads again", async () => {
  // Only the pool's retry timers are fake: workers load in real time, and the test waits on the
  // logger's events for them.
  const clock = installFakeClock({ toFake: ["setTimeout", "clearTimeout"] });
  const log = new LogRecorder();
  try {
    await using refusing = await refusingPool(log);
    const { pool, url, marker } = refusing;
    assert.equal(await pool.run(url, "add", [1, 2]), 3);
    let failed = log.next("pool worker failed to start");
    await refusing.breakIt();
    // Queued while the replacement loads: it fails as soon as the replacement does.
    const queued = pool.run(url, "add", [1, 1]);
    const failure = await failed;
    assert.match(String(failure.error), /refusing to load/);
    assert.equal(failure.retryInMs, 100, "the first retry waits 100 ms");
    await assert.rejects(queued, isOutage);
    // A new call is refused at once: it is never queued, so it cannot hang.
    const refused = pool.run(url, "add", [2, 2]);
    assert.equal(pool.queued, 0);
    await assert.rejects(refused, isOutage);
    failed = log.next("pool worker failed to start");
    clock.tick(100);
    assert.equal((await failed).retryInMs, 200, "the wait doubles");
    const recovered = log.next("pool worker recovered");
    await removeFile(marker);
    clock.tick(200);
    await recovered;
    assert.equal(await pool.run(url, "add", [2, 3]), 5);
    assert.deepEqual(
      log.records.map((r) => `${r.level} ${r.event}`),
      [
        "warn pool worker died",
        "error pool worker failed to start",
        "error pool worker failed to start",
        "info pool worker recovered",
      ],
    );
    assert.equal(clock.countTimers(), 0);
  } finally {
    clock.uninstall();
  }
});

test("pool: close() clears a pending retry, and a closed pool never starts a worker", async () => {
  const clock = installFakeClock({ toFake: ["setTimeout", "clearTimeout"] });
  const log = new LogRecorder();
  try {
    await using refusing = await refusingPool(log);
    const failed = log.next("pool worker failed to start");
    await refusing.breakIt();
    await failed;
    assert.equal(clock.countTimers(), 1, "a retry is scheduled");
    await refusing.pool.close();
    assert.equal(clock.countTimers(), 0, "close() cleared it");
    await assert.rejects(
      refusing.pool.run(refusing.url, "add", [1, 2]),
      /the worker pool is closed/,
    );
  } finally {
    clock.uninstall();
  }
});

test("pool: a pool function reads callContext(): the call's id, method, peer and user", async () => {
  await using server = await startServer({ workers: 1 }, (s) => {
    s.registerModule(CONTEXT_HANDLERS, { prefix: "ctx" });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
  const seen = await rpc.ctx.whoami();
  assert.equal(seen.method, "ctx.whoami");
  assert.equal(seen.user, "admin");
  assert.match(seen.peer, /^127\.0\.0\.1:\d+$/);
  assert.equal(typeof seen.id, "string");
});

test("pool: a client that leaves a pool stream early aborts the call's signal in the worker", async () => {
  const aborted = abortReported("client");
  try {
    await using server = await startServer({ workers: 1 }, (s) => {
      s.registerModule(CONTEXT_HANDLERS);
    });
    {
      await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
      for await (const tick of await rpc.ticks("client")) if (tick === 3) break;
    } // the connection closes here: the server cancels the call
    await aborted.seen;
  } finally {
    aborted.close();
  }
});

test("pool: a reader that stops a pool stream aborts the call's signal in the worker", async () => {
  const aborted = abortReported("reader");
  const pool = new WorkerPool({ size: 1, urls: [CONTEXT_HANDLERS.href], logger: silentLogger });
  try {
    await pool.start();
    const connection = new AbortController(); // never aborts: only the reader stops
    const context = contextOf(connection.signal, "ticks");
    const ticks = await pool.run(CONTEXT_HANDLERS.href, "ticks", ["reader"], context);
    for await (const tick of ticks as AsyncIterable<number>) if (tick === 3) break;
    await aborted.seen;
  } finally {
    aborted.close();
    await pool.close();
  }
});

test("pool: a stream's worker runs no further ahead of its reader than the window", async () => {
  const pool = new WorkerPool({ size: 1, urls: [HANDLERS.href], logger: silentLogger });
  await pool.start();
  try {
    const items = await pool.run(HANDLERS.href, "count", [300]) as ItemStream;
    let most = 0;
    let expected = 0;
    for (let r = await items.next(); !r.done; r = await items.next()) {
      assert.equal(r.value, expected++);
      most = Math.max(most, items.buffered);
      // A slow reader: a whole turn of the event loop per item, while the worker could post all.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    assert.equal(expected, 300, "every item, in order");
    assert.ok(most <= STREAM_WINDOW, `at most ${most} items waited for the reader`);
  } finally {
    await pool.close();
  }
});
