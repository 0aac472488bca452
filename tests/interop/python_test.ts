/**
 * Wire compatibility outside JavaScript: tests/interop/python/peer.py, an MPRPC peer written in Python
 * from docs/protocol.md, calls our server and serves our client, in every codec mode, and asks our
 * broker for a server with the plain 0.1 exchange.
 */
import assert from "node:assert/strict";
import { spawn, test } from "../test_platform.deno.ts";
import {
  AsyncRPC,
  Broker,
  type Compression,
  NotFindError,
  type RPCRuntimeError,
  type Server,
} from "../../mod.ts";
import { makeCertificates, silentLogger, startServer } from "../helpers.ts";
import type { ItemStream } from "../../src/call/item_stream.ts";
import { PYTHON, runPython } from "./python.ts";
import { countTerminators } from "../wire/cut_payloads.ts";

const PEER = new URL("./python/peer.py", import.meta.url).pathname;
const MODES = ["msgpack", "debug", "zlib", "bz2", "lzma"] as const;
type Mode = typeof MODES[number];

function serverOptions(mode: Mode) {
  return {
    debug: mode === "debug",
    compression: mode === "msgpack" || mode === "debug" ? null : mode as Compression,
  };
}

class TestClass {
  mul(a: number, b: number) {
    return a * b;
  }
}

const example = (server: Server) => {
  server.registerIntrospectionFunctions();
  server.registerFunction(function testfunc(a: number, b: number) {
    return a + b;
  });
  server.registerFunction(async function testcoro(a: number, b: number) {
    return await Promise.resolve(a * b);
  });
  server.registerFunction(async function* testcorogen(a: number, b: number) {
    for (let i = 0; i < 3; i++) yield a + b + i;
  });
  server.registerFunction(function echo(x: unknown) {
    return x;
  });
  server.registerInstance(new TestClass());
};

async function quietly<T>(debug: boolean, body: () => Promise<T>): Promise<T> {
  if (!debug) return await body();
  const originalError = console.error;
  console.error = () => {};
  try {
    return await body();
  } finally {
    console.error = originalError;
  }
}

for (const mode of MODES) {
  test(`python: a Python client calls our server (${mode})`, async () => {
    const options = serverOptions(mode);
    const lines = await quietly(options.debug, async () => {
      await using server = await startServer(options, example);
      const stdout = await runPython([PEER, "client", String(server.addr.port), mode]);
      return stdout.trim().split("\n").map((line) => JSON.parse(line));
    });
    const got = Object.fromEntries(lines.map(({ name, value }) => [name, value]));
    const result = (name: string) => got[name].MESSAGE.RESULT;
    assert.equal(got.handshake.CODE, 100);
    assert.equal("EXT" in got.handshake, false, "a client that did not ask gets no EXT");
    assert.equal(got.handshake.DEBUG, options.debug);
    assert.equal(got.handshake.COMPRESER, options.compression);
    assert.equal(result("testfunc"), 3);
    assert.equal(result("kwargs"), 30);
    assert.equal(result("coro"), 12);
    assert.deepEqual(got.stream, { CODE: 201, ITEMS: [3, 4, 5], END: 206 });
    assert.equal(result("instance"), 42);
    assert.equal(result("unicode"), "中文 ✓");
    if (mode !== "debug") assert.deepEqual(got.binary, [0, 1, 255]);
    assert.ok(result("methods").includes("system.getresult"));
    assert.equal(result("signature"), "(a, b)");
    assert.equal(got.missing.CODE, 401);
    assert.equal(got.missing.MESSAGE.EXCEPTION, "NotFindError");
    assert.equal(result("getresult"), 5);
    assert.deepEqual(got.pong, { MPRPC: "0.1", CODE: 101, HEARTBEAT: "pong" });
  });

  test(`python: our client calls a Python server (${mode})`, async () => {
    const options = serverOptions(mode);
    // The peer serves until its stdin closes.
    const child = spawn(PYTHON, [PEER, "server", mode]);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const port = Number((await reader.read()).value);
      await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${port}`, options);
      assert.equal(rpc.remoteInfo?.DESC, "python peer");
      assert.equal(rpc.remoteInfo?.EXT, undefined, "the Python server ignored EXT: plain 0.1");
      assert.equal(await rpc.testfunc(5, 4), 9);
      assert.equal(await rpc.call("testfunc", [], { a: 1, b: 2 }), 3);
      assert.equal(await rpc.echo("中文"), "中文");
      if (mode !== "debug") {
        assert.deepEqual(await rpc.echo(new Uint8Array([0, 255])), new Uint8Array([0, 255]));
      }
      const items = [];
      for await (const item of await rpc.testcorogen(1, 2)) items.push(item);
      assert.deepEqual(items, [3, 4, 5]);
      await assert.rejects(rpc.nope(), NotFindError);
      await assert.rejects(
        rpc.fails(),
        (err: RPCRuntimeError) => err.exception === "ZeroDivisionError",
      );
      const all = await Promise.all(Array.from({ length: 50 }, (_, i) => rpc.testfunc(i, 1)));
      assert.deepEqual(all, Array.from({ length: 50 }, (_, i) => i + 1));
    } finally {
      await child.stdin.close();
      await reader.cancel();
      await child.status;
    }
  });
}

for (const mode of MODES) {
  test(`python: a Python client's arguments holding the terminator are read whole (${mode})`, async () => {
    const options = serverOptions(mode);
    await using server = await startServer(options, (s) => {
      // Its length and the terminators it holds: an echo would hold them, refused with 405.
      s.registerFunction(function measure(x: string | Uint8Array) {
        const bytes = typeof x === "string" ? new TextEncoder().encode(x) : x;
        return [x.length, countTerminators(bytes)];
      });
    });
    const stdout = await runPython([PEER, "cut", String(server.addr.port), mode]);
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.equal(lines[0].value.CODE, 100);
    const measured = lines.slice(1).map(({ value }) => value);
    assert.equal(measured.length, mode === "debug" ? 8 : 9, "every call answered");
    for (const { reply, expected, cut } of measured) {
      assert.equal(reply.CODE, 200, JSON.stringify(reply));
      assert.deepEqual(reply.MESSAGE.RESULT, expected);
      // Uncompressed, each payload holds the argument's terminators; compressed, the random
      // bytes do (zlib and lzma store them as they are), and bz2 never shows them.
      if (mode === "msgpack" || mode === "debug") assert.ok(cut >= expected[1]);
    }
    if (mode === "zlib" || mode === "lzma") {
      assert.ok(measured.at(-1).cut >= 3, "in the stored bytes");
    }
  });
}

for (const mode of MODES) {
  test(`python: our client reads a Python server's answers holding the terminator (${mode})`, async () => {
    const child = spawn(PYTHON, [PEER, "server", mode]);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const port = Number((await reader.read()).value);
      const url = `tcp://admin:admin@127.0.0.1:${port}`;
      await using rpc = await AsyncRPC.connect(url, serverOptions(mode));
      // Python's `a + b` joins them: the answer holds what our client may not send a 0.1 peer.
      for (const [a, b] of [["x##PRO-", "END##y"], ["##PRO-", "END##"], ["z##PRO-END", "##"]]) {
        assert.equal(await rpc.testfunc(a, b), a + b);
      }
      assert.equal(await rpc.testfunc(1, 2), 3, "and the connection is in step");
    } finally {
      await child.stdin.close();
      await reader.cancel();
      await child.status;
    }
  });
}

test("python: against a 0.1 server a slow stream reader makes the client stop reading", async () => {
  const child = spawn(PYTHON, [PEER, "server", "msgpack"]);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const port = Number((await reader.read()).value);
    const url = `tcp://admin:admin@127.0.0.1:${port}`;
    await using rpc = await AsyncRPC.connect(url, { streamBuffer: 4096 });
    const items = await rpc.count(1000, 1024) as ItemStream;
    let most = 0;
    let read = 0;
    for await (const item of items) {
      assert.equal(String(item).split("y")[0], String(read++), "in order");
      most = Math.max(most, items.buffered);
      await new Promise((resolve) => setTimeout(resolve, 0)); // a slow reader
    }
    assert.equal(read, 1000, "every item");
    // 4 KiB is 4 items, plus what one read of the socket brought in before the client paused.
    assert.ok(most < 200, `${most} items waited for the reader`);
  } finally {
    await child.stdin.close();
    await reader.cancel();
    await child.status;
  }
});

// ---------------------------------------------------------------- broker (plain 0.1, msgpack)

const SECRET = "python-interop-secret";

async function startBroker(options: { auth?: [string, string][] } = {}) {
  const broker = new Broker({ port: 0, secret: SECRET, logger: silentLogger, ...options });
  try {
    await broker.listen();
  } catch (err) {
    await broker.close();
    throw err;
  }
  return broker;
}

/** A server running `example`, a member of `broker` once this resolves. */
async function startMember(broker: Broker, options: { auth?: [string, string][] } = {}) {
  const url = `tcp://127.0.0.1:${broker.addr.port}`;
  const server = await startServer({ broker: { url, secret: SECRET }, ...options }, example);
  try {
    await server.joined();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

/** The peer asking the broker with `user`/`password`: its exit code and its lines, by name. */
async function askBroker(broker: Broker, user: string, password: string) {
  const child = spawn(PYTHON, [PEER, "broker", String(broker.addr.port), user, password]);
  await child.stdin.close();
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.status]);
  const lines = stdout.trim().split("\n").filter((line) => line).map((line) => JSON.parse(line));
  return { code, got: Object.fromEntries(lines.map(({ name, value }) => [name, value])) };
}

test("python: a raw 0.1 client asks the broker and calls the server it names", async () => {
  await using broker = await startBroker();
  await using one = await startMember(broker);
  await using two = await startMember(broker);
  const members = [one.addr.port, two.addr.port];
  const { code, got } = await askBroker(broker, "admin", "admin");
  assert.equal(code, 0);
  assert.equal(got.broker.MPRPC, "0.1");
  assert.equal(got.broker.CODE, 50);
  const url = new URL(got.broker.URL);
  assert.equal(url.protocol, "tcp:");
  assert.equal(url.hostname, "127.0.0.1");
  assert.ok(members.includes(Number(url.port)), `${got.broker.URL} names a member`);
  assert.equal(`${url.username}:${url.password}`, "admin:admin", "the client's own credentials");
  assert.equal(got.closed, true, "the broker closes the connection after its answer");
  assert.deepEqual(got.server, {
    host: "127.0.0.1",
    port: Number(url.port),
    user: "admin",
    password: "admin",
  });
  assert.equal(got.handshake.CODE, 100);
  assert.equal("EXT" in got.handshake, false, "a client that did not ask gets no EXT");
  assert.equal(got.testfunc.CODE, 200);
  assert.equal(got.testfunc.MESSAGE.RESULT, 3);
});

test("python: the broker's URL carries the client's credentials percent-encoded", async () => {
  const odd: [string, string] = ["us er@x", "p:ss/wörd%?#"];
  const auth: [string, string][] = [["admin", "admin"], odd];
  await using broker = await startBroker({ auth });
  await using _member = await startMember(broker, { auth });
  const { code, got } = await askBroker(broker, ...odd);
  assert.equal(code, 0);
  assert.equal(got.broker.CODE, 50);
  const encoded = `${encodeURIComponent(odd[0])}:${encodeURIComponent(odd[1])}@`;
  assert.ok(got.broker.URL.startsWith(`tcp://${encoded}`), got.broker.URL);
  assert.deepEqual([got.server.user, got.server.password], odd, "decoded, they are the pair sent");
  assert.equal(got.handshake.CODE, 100);
  assert.equal(got.testfunc.MESSAGE.RESULT, 3);
});

test("python: a raw 0.1 client with bad credentials gets 51 from the broker", async () => {
  await using broker = await startBroker();
  await using _member = await startMember(broker);
  const { code, got } = await askBroker(broker, "admin", "wrong");
  assert.equal(code, 51, "the peer exits with the refusal's code");
  assert.equal(got.broker.CODE, 51);
  assert.equal(typeof got.broker.MESSAGE, "string");
  assert.equal("URL" in got.broker, false);
  assert.equal(got.closed, true);
  assert.equal(got.handshake, undefined, "no server was called");
});

test("python: credentials the broker accepts but no member does get 51", async () => {
  const auth: [string, string][] = [["admin", "admin"], ["other", "other"]];
  await using broker = await startBroker({ auth });
  await using _member = await startMember(broker); // accepts admin:admin only
  const { code, got } = await askBroker(broker, "other", "other");
  assert.equal(code, 51);
  assert.equal(got.broker.CODE, 51);
  assert.equal(typeof got.broker.MESSAGE, "string");
  assert.equal(got.handshake, undefined);
});

test("python: a raw 0.1 client asking a broker with no members gets 52", async () => {
  await using broker = await startBroker();
  const { code, got } = await askBroker(broker, "admin", "admin");
  assert.equal(code, 52, "the peer exits with the refusal's code");
  assert.equal(got.broker.CODE, 52);
  assert.equal(typeof got.broker.MESSAGE, "string");
  assert.equal("URL" in got.broker, false);
  assert.equal(got.closed, true);
  assert.equal(got.handshake, undefined);
});

test("python: a Python client using ssl calls our TLS server", async () => {
  const { ca, server: pem } = await makeCertificates();
  await using server = await startServer({ tls: pem }, example);
  const stdout = await runPython([PEER, "client", String(server.addr.port)], undefined, {
    TLS_CA: ca,
  });
  const got = Object.fromEntries(
    stdout.trim().split("\n").map((line) => JSON.parse(line)).map((
      { name, value },
    ) => [name, value]),
  );
  assert.equal(got.handshake.CODE, 100);
  assert.equal(got.testfunc.MESSAGE.RESULT, 3);
  assert.deepEqual(got.stream, { CODE: 201, ITEMS: [3, 4, 5], END: 206 });
});
