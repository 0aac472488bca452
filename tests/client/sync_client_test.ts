import assert from "node:assert/strict";
import { scriptCommandWithoutRead, spawn, test } from "../test_platform.deno.ts";
import {
  ConnectionLostError,
  LoginError,
  NotFindError,
  ParamError,
  RPC,
  RPCRuntimeError,
  RpcUnavailableException,
  TimeoutException,
} from "../../mod.ts";
import { createChannel, readMessage } from "../../src/client/shared_channel.ts";
import { spawnWorker } from "../../src/platform/runtime.deno.ts";
import { deferred, makeCertificates, ScriptProcess, spawnServer } from "../helpers.ts";
import type { WriteOrder } from "../fixtures/channel_writer.ts";

const SERVER = new URL("../fixtures/sync_server.ts", import.meta.url);
const CHANNEL_WRITER = new URL("../fixtures/channel_writer.ts", import.meta.url);
const WITHOUT_READ = new URL("../fixtures/sync_without_read.ts", import.meta.url);
const BROKER = new URL("../fixtures/broker_process.ts", import.meta.url);
const MEMBER = new URL("../fixtures/member_server.ts", import.meta.url);
const TLS_SERVER = new URL("../fixtures/tls_server.ts", import.meta.url);

test("sync: every call kind returns values, no await", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url);
  assert.equal(rpc.remoteInfo?.CODE, 100);
  assert.ok(rpc.system.listMethods().includes("testfunc"));
  assert.equal(rpc.testfunc(5, 4), 9);
  assert.equal(rpc.call("testfunc", [], { a: 1, b: 2 }), 3);
  const items = [];
  for (const item of rpc.range(5)) items.push(item);
  assert.deepEqual(items, [0, 1, 2, 3, 4]);
  const id = rpc.delay("testfunc", [2, 3]);
  assert.equal(rpc.system.getresult(id), 5);
  assert.equal((rpc as unknown as { then?: unknown }).then, undefined, "not thenable");
});

test("sync: middleware runs around calls on the caller's thread, in order", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url);
  const seen: string[] = [];
  rpc.use((ctx, next) => {
    seen.push(`outer ${ctx.method}`);
    return (next() as number) * 10;
  });
  rpc.use((ctx, next) => {
    if (ctx.method === "forbidden") throw new Error("not from this client");
    if (ctx.method === "testfunc") ctx.args = ctx.args.map((arg) => (arg as number) + 1);
    ctx.options = { ...ctx.options, timeout: 5 };
    return next();
  });
  assert.equal(rpc.testfunc(1, 2), 50);
  assert.equal(rpc.with({ timeout: 9 }).testfunc(0, 0), 20);
  assert.throws(() => rpc.forbidden(), /not from this client/);
  const id = rpc.delay("testfunc", [2, 3]); // sent as is: the server stores 5
  assert.equal(rpc.system.getresult(id), 50); // getresult goes through middleware: 5 × 10
  assert.deepEqual(seen, [
    "outer testfunc",
    "outer testfunc",
    "outer forbidden",
    "outer system.getresult",
  ]);
  assert.throws(() => rpc.use(null as never), /use\(\) takes a function/);
  assert.throws(() => rpc.use(async (_ctx, next) => await next()), /RPC.use takes plain functions/);
});

test("sync: errors are the same classes, thrown synchronously", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url);
  assert.throws(() => rpc.nope(), NotFindError);
  assert.throws(() => rpc.testfunc(1), ParamError);
  assert.throws(
    () => rpc.fails(),
    (err: RPCRuntimeError) =>
      err instanceof RPCRuntimeError && err.exception === "TypeError" && err.code === 404,
  );
  assert.throws(() => RPC.connect(server.url.replace("admin:admin", "admin:wrong")), LoginError);
});

test("sync: an 8 MiB payload passes through the shared window in pieces", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url);
  const big = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const payload = new Uint8Array(8 * 1024 * 1024);
  for (let at = 0; at < payload.length; at += big.length) payload.set(big, at);
  const back: Uint8Array = rpc.echo(payload);
  assert.equal(back.length, payload.length);
  assert.deepEqual(back, payload);
  assert.equal(rpc.testfunc(1, 1), 2, "the channel is in step afterwards");
});

test("sync: breaking out of a stream early releases it; later calls are unaffected", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url);
  for (const item of rpc.range(10_000)) if (item === 3) break;
  assert.equal(rpc.testfunc(2, 2), 4);
  const again = [];
  for (const item of rpc.range(3)) again.push(item);
  assert.deepEqual(again, [0, 1, 2]);
});

test("sync: a per-call timeout throws TimeoutException instead of blocking", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url, { timeout: 0.1 });
  assert.throws(() => rpc.slow(2000), TimeoutException);
  assert.equal(rpc.testfunc(1, 2), 3);
});

test("sync: with({ timeout }) gives calls their own timeout, attribute calls included", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url);
  assert.throws(() => rpc.with({ timeout: 0.1 }).slow(2000), TimeoutException);
  assert.throws(() => rpc.call("slow", [2000], {}, { timeout: 0.1 }), TimeoutException);
  assert.equal(rpc.with({ timeout: 5 }).testfunc(1, 2), 3);
  assert.throws(
    () => rpc.with({ signal: null } as never),
    /unknown SyncCallOptions option 'signal'/,
  );
});

test("sync: a server that dies mid-call is a clear error, not a hang", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url);
  assert.throws(() => rpc.die(), RpcUnavailableException);
  assert.throws(() => rpc.testfunc(1, 2), RpcUnavailableException);
  assert.throws(() => rpc.reconnect(), RpcUnavailableException, "nothing listens any more");
});

test("sync: heartbeats keep a connection alive past the idle timeout; reconnect() revives one without", async () => {
  await using server = await spawnServer(SERVER, { TIMEOUT: "0.2" });
  using withHeartbeat = RPC.connect(server.url, { heartbeat: 0.05 });
  using without = RPC.connect(server.url, { heartbeat: 0, reconnect: false });
  assert.equal(without.slow(400), 400, "a running call is never idle-timed-out");
  // Real time has to pass here: the server runs in another process. `without` is the control
  // that proves the wait outlasted the timeout.
  await new Promise((resolve) => setTimeout(resolve, 800));
  assert.throws(() => without.testfunc(1, 2), TimeoutException);
  assert.equal(withHeartbeat.testfunc(1, 2), 3);
  without.reconnect();
  assert.equal(without.testfunc(1, 2), 3);
});

test("sync: close is idempotent and later calls fail clearly", async () => {
  await using server = await spawnServer(SERVER);
  const rpc = RPC.connect(server.url);
  rpc.close();
  rpc.close();
  assert.throws(() => rpc.testfunc(1, 2), RpcUnavailableException);
});

test("sync: a stream item that comes after its call timed out is dropped, not taken for the next answer", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect(server.url, { timeout: 0.2 });
  const items = rpc.lateItem(1400)[Symbol.iterator]();
  assert.equal(items.next().value, "first");
  // The caller waits for the next item 0.2 s plus the worker margin (1 s), then gives up.
  assert.throws(() => items.next(), TimeoutException);
  // The late item reaches the channel about 0.2 s later, while the caller is idle. Real time has
  // to pass: the server is another process.
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(rpc.testfunc(1, 2), 3);
  assert.equal(rpc.testfunc(2, 2), 4);
});

test("sync: the rest of an answer whose reading timed out is dropped, not read as the next one", async () => {
  const ready = deferred();
  const writer = spawnWorker(CHANNEL_WRITER, {
    onMessage: () => ready.resolve(),
    onError: (message) => assert.fail(message),
  });
  try {
    await ready.promise;
    // A 16-byte window: the stale answer is 262,144 pieces, far more than pass in 50 ms.
    const channel = createChannel(16);
    const stale = new Uint8Array(4 * 1024 * 1024).fill(1);
    writer.post({ channel, seq: 1, bytes: stale } satisfies WriteOrder);
    assert.throws(() => readMessage(channel, 1, 50), TimeoutException);
    const fresh = new Uint8Array(40).map((_, i) => i);
    writer.post({ channel, seq: 2, bytes: fresh } satisfies WriteOrder);
    assert.deepEqual(readMessage(channel, 2, 5000), fresh);
  } finally {
    writer.terminate();
  }
});

test("sync: without permission to read its worker module, connect fails at once and says why", async () => {
  const command = scriptCommandWithoutRead(WITHOUT_READ);
  if (!command) return; // a runtime without permissions (Node) has nothing to withhold
  const started = performance.now();
  const child = spawn(...command);
  await child.stdin.close();
  const output = await new Response(child.stdout).text();
  assert.equal(await child.status, 0);
  assert.match(output, /^NotCapable: cannot start a worker: .*needs --allow-read\n$/);
  // The defect this guards against: a 10 s wait for the connect timeout.
  assert.ok(performance.now() - started < 5000, `took ${performance.now() - started} ms`);
});

test("sync: an unknown option is a TypeError naming it, before any worker starts", () => {
  assert.throws(
    () => new RPC("tcp://a:b@127.0.0.1:1", { timout: 1 } as never),
    /unknown ClientOptions option 'timout'/,
  );
});

test("sync: RPC.connect takes broker:// addresses; when its server dies, calls go on at another member", async () => {
  // Everything in other processes: a blocked caller cannot serve anything on its own thread.
  await using broker = await ScriptProcess.start(BROKER, { SECRET: "s" });
  const members = { BROKERS: `tcp://127.0.0.1:${broker.port}`, SECRET: "s" };
  await using a = await ScriptProcess.start(MEMBER, members);
  await using b = await ScriptProcess.start(MEMBER, members);
  using rpc = RPC.connect(`broker://admin:admin@127.0.0.1:${broker.port}`, {
    reconnect: { minDelay: 0.05, maxDelay: 0.2 },
  });
  const first = rpc.whoami();
  const [dying, other] = first === a.port ? [a, b] : [b, a];
  const slow = rpc.with({ timeout: 5 });
  await dying.kill("SIGKILL");
  // The worker's connection learns of the death by itself; this call either was sent on the dead
  // connection (and says so) or waits for the new one.
  try {
    assert.equal(slow.whoami(), other.port);
  } catch (err) {
    assert.ok(err instanceof ConnectionLostError, String(err));
  }
  assert.equal(slow.whoami(), other.port);
});

test("sync: RPC.connect takes tls:// addresses with the tls option", async () => {
  const { ca, server: pem } = await makeCertificates();
  await using server = await spawnServer(TLS_SERVER, { TLS_CERT: pem.cert, TLS_KEY: pem.key });
  const port = server.url.split(":").at(-1);
  using rpc = RPC.connect(`tls://admin:admin@localhost:${port}`, { tls: { ca } });
  assert.equal(rpc.add(40, 2), 42);
});
