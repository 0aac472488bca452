/**
 * Wire compatibility outside JavaScript: tests/interop/python/peer.py, an MPRPC peer written in Python
 * from docs/protocol.md, calls our server and serves our client, in every codec mode.
 */
import assert from "node:assert/strict";
import { spawn, test } from "../test_platform.deno.ts";
import {
  AsyncRPC,
  type Compression,
  NotFindError,
  type RPCRuntimeError,
  type Server,
} from "../../mod.ts";
import { startServer } from "../helpers.ts";
import type { ItemStream } from "../../src/call/item_stream.ts";
import { PYTHON, runPython } from "./python.ts";

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
