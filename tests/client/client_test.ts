import assert from "node:assert/strict";
import { listenTcp, test } from "../test_platform.deno.ts";
import {
  AsyncRPC,
  LoginError,
  NotFindError,
  ParamError,
  RPCRuntimeError,
  RpcUnavailableException,
  type Server,
  type ServerOptions,
  TimeoutException,
} from "../../mod.ts";
import { collect, deferred, startServer, urlOf, WireClient } from "../helpers.ts";
import { installFakeClock } from "../test_deps.ts";

const api = (server: Server) => {
  server.registerIntrospectionFunctions();
  server.registerFunction(function testfunc(a: number, b: number) {
    return a + b;
  });
  server.registerFunction(async function testcoro(a: number, b: number) {
    return await Promise.resolve(a * b);
  });
  server.registerFunction(async function* testcorogen(a: number, b: number) {
    for (let i = a; i < b; i++) yield i;
  });
  server.registerFunction(async function* failing() {
    yield "first";
    throw new Error("generator broke");
  });
  server.registerFunction(function echo(x: unknown) {
    return x;
  });
  server.registerFunction(function boom() {
    throw new SyntaxError("bad thing");
  });
  server.registerFunction(function then() {
    return "the remote method named then";
  });
};

async function withRpc(
  options: ServerOptions,
  body: (rpc: Awaited<ReturnType<typeof AsyncRPC.connect>>, server: Server) => Promise<void>,
  setup: (server: Server) => void = api,
): Promise<void> {
  await using server = await startServer(options, setup);
  await using rpc = await AsyncRPC.connect(urlOf(server), {
    debug: options.debug,
    compression: options.compression,
  });
  await body(rpc, server);
}

test("client: attribute calls, nested names, kwargs, the 100 reply", async () => {
  await withRpc({ version: "0.0.1", description: "d" }, async (rpc) => {
    assert.equal(rpc.remoteInfo?.VERSION, "0.0.1");
    assert.equal(rpc.remoteInfo?.DESC, "d");
    assert.equal(await rpc.testfunc(5, 4), 9);
    assert.equal(await rpc.testcoro(5, 4), 20);
    assert.ok((await rpc.system.listMethods()).includes("testcorogen"));
    assert.equal(await rpc.call("testfunc", [], { a: 1, b: 2 }), 3);
  });
});

test("client: the Proxy is not thenable; a method named then is reached with call()", async () => {
  await withRpc({}, async (rpc) => {
    assert.equal((rpc as unknown as { then?: unknown }).then, undefined);
    assert.equal((rpc.system as unknown as { then?: unknown }).then, undefined);
    assert.equal(await rpc, rpc);
    assert.equal(await rpc.call("then"), "the remote method named then");
  });
});

test("client: binary values round-trip as Uint8Array", async () => {
  await withRpc({}, async (rpc) => {
    const bytes = new Uint8Array([0, 1, 2, 255]);
    assert.deepEqual(await rpc.echo(bytes), bytes);
    assert.deepEqual(await rpc.echo({ nested: [bytes, "中文"] }), { nested: [bytes, "中文"] });
  });
});

test("client: a stream resolves to an async iterable of its items", async () => {
  await withRpc({}, async (rpc) => {
    const items = [];
    for await (const item of await rpc.testcorogen(1, 5)) items.push(item);
    assert.deepEqual(items, [1, 2, 3, 4]);
  });
});

test("client: a stream that fails midway throws from the iterator", async () => {
  await withRpc({}, async (rpc) => {
    const items: unknown[] = [];
    await assert.rejects(async () => {
      for await (const item of await rpc.failing()) items.push(item);
    }, (err: RPCRuntimeError) => err.code === 404 && err.exception === "Error");
    assert.deepEqual(items, ["first"]);
  });
});

test("client: breaking out of a stream early leaves the connection usable", async () => {
  await withRpc({}, async (rpc) => {
    for await (const item of await rpc.testcorogen(0, 1000)) if (item === 2) break;
    assert.equal(await rpc.testfunc(1, 1), 2);
  });
});

test("client: errors are the classes of their codes, with id, exception and data", async () => {
  await withRpc({}, async (rpc) => {
    await assert.rejects(rpc.nope(), NotFindError);
    await assert.rejects(rpc.testfunc(1), ParamError);
    const err = await rpc.boom().catch((e: RPCRuntimeError) => e);
    assert.ok(err instanceof RPCRuntimeError);
    assert.equal(err.code, 404);
    assert.equal(err.exception, "SyntaxError");
    assert.equal(err.message, "bad thing");
    assert.deepEqual(err.data, { METHOD: "boom", ARGS: [], KWARGS: {} });
    // An answered call's ID: the session's random prefix, then the call's number on it.
    assert.match(err.id!, /^[0-9a-f]{8}\.\d+$/);
    const again = await rpc.boom().catch((e: RPCRuntimeError) => e);
    assert.equal(again.id!.split(".")[0], err.id!.split(".")[0]);
    assert.equal(Number(again.id!.split(".")[1]), Number(err.id!.split(".")[1]) + 1);
  });
});

test("client: delay sends RETURN false; system.getresult fetches the outcome", async () => {
  await withRpc({}, async (rpc) => {
    const id = await rpc.delay("testfunc", [2, 3]);
    // Anyone presenting it gets the outcome: a RETURN: false call's ID stays a UUID4.
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(await rpc.system.getresult(id), 5);
    const streamId = await rpc.delay("testcorogen", [0, 3]);
    const items = [];
    for await (const item of await rpc.system.getresult(streamId)) items.push(item);
    assert.deepEqual(items, [0, 1, 2]);
  });
});

test("client: concurrent calls on one connection all resolve to their own answers", async () => {
  await withRpc({}, async (rpc) => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => rpc.testfunc(i, i)));
    assert.deepEqual(results, Array.from({ length: 200 }, (_, i) => 2 * i));
  });
});

test("client: wrong credentials reject connect with LoginError", async () => {
  await using server = await startServer({}, api);
  await assert.rejects(AsyncRPC.connect(urlOf(server, "admin:nope")), LoginError);
});

test("client: a refused connection is an RpcUnavailableException", async () => {
  const server = await startServer({}, api);
  const url = urlOf(server);
  await server.close();
  await assert.rejects(AsyncRPC.connect(url), RpcUnavailableException);
});

test("client: mismatched debug mode is a clear ProtocolException", async () => {
  await using server = await startServer({ debug: true }, api);
  const originalError = console.error;
  console.error = () => {};
  try {
    await assert.rejects(
      AsyncRPC.connect(urlOf(server)),
      /do the debug and compression options match/,
    );
  } finally {
    console.error = originalError;
  }
});

test("client: a per-call timeout fails the call with TimeoutException; the connection lives on", async () => {
  const gate = deferred();
  await using server = await startServer({}, (s) => {
    api(s);
    s.registerFunction(function hang() {
      return gate.promise;
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server), { timeout: 0.05 });
  await assert.rejects(rpc.hang(), TimeoutException);
  gate.resolve();
  assert.equal(await rpc.testfunc(2, 2), 4);
});

test("client: close fails waiting calls; calls after close fail; reconnect recovers", async () => {
  const gate = deferred();
  await using server = await startServer({}, (s) => {
    api(s);
    s.registerFunction(function hang() {
      return gate.promise;
    });
  });
  const rpc = await AsyncRPC.connect(urlOf(server));
  const waiting = rpc.hang();
  await rpc.close();
  await assert.rejects(waiting, RpcUnavailableException);
  await assert.rejects(rpc.testfunc(1, 2), RpcUnavailableException);
  assert.equal(rpc.connected, false);
  await rpc.reconnect();
  assert.equal(await rpc.testfunc(1, 2), 3);
  gate.resolve();
  await rpc.close();
});

test("client: without reconnect, the server's idle timeout surfaces as TimeoutException on the next call", async () => {
  await using server = await startServer({ timeout: 0.05 }, api);
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0, reconnect: false });
  assert.ok(await rpc.closed instanceof TimeoutException);
  assert.equal(rpc.connected, false);
  await assert.rejects(rpc.testfunc(1, 2), TimeoutException);
});

test("client: after the server's idle timeout, the next call reconnects (not before)", async () => {
  await using server = await startServer({ timeout: 0.05 }, api);
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
  const disconnected = new Promise<CustomEvent>((resolve) =>
    rpc.addEventListener("disconnect", (event) => resolve(event as CustomEvent), { once: true })
  );
  const { detail } = await disconnected;
  assert.ok(detail.error instanceof TimeoutException);
  assert.equal(detail.reconnecting, false, "an idle connection is not worth reopening at once");
  assert.equal(rpc.connected, false);
  assert.equal(await rpc.testfunc(1, 2), 3);
  assert.equal(rpc.connected, true);
});

for (const compression of ["zlib", "bz2", "lzma"] as const) {
  test(`client: every call kind works with ${compression} compression`, async () => {
    await withRpc({ compression }, async (rpc) => {
      assert.equal(rpc.remoteInfo?.COMPRESER, compression);
      assert.equal(await rpc.testfunc(5, 4), 9);
      assert.equal(await rpc.echo("x".repeat(100_000)), "x".repeat(100_000));
      const items = [];
      for await (const item of await rpc.testcorogen(0, 3)) items.push(item);
      assert.deepEqual(items, [0, 1, 2]);
    });
  });
}

test("client: debug mode speaks JSON with a debug server", async () => {
  const originalError = console.error;
  console.error = () => {};
  try {
    await withRpc({ debug: true }, async (rpc) => {
      assert.equal(rpc.remoteInfo?.DEBUG, true);
      assert.equal(await rpc.testfunc(5, 4), 9);
    });
  } finally {
    console.error = originalError;
  }
});

// A bare TCP peer that accepts the handshake and records every message the client sends.
async function recordingPeer(onMessage: (message: Record<string, unknown>) => void) {
  const listener = await listenTcp();
  const served = (async () => {
    const peer = WireClient.over(await listener.accept());
    for (let message = await peer.next(); message; message = await peer.next()) {
      await peer.send(
        message.AUTH
          ? {
            MPRPC: "0.1",
            CODE: 100,
            VERSION: null,
            DESC: null,
            DEBUG: false,
            COMPRESER: null,
            TIMEOUT: 0,
          }
          : { MPRPC: "0.1", CODE: 101, HEARTBEAT: "pong" },
      );
      onMessage(message);
    }
    peer.close();
  })();
  return { port: listener.port, close: async () => (listener.close(), await served) };
}

test("client: heartbeat sends a ping every `heartbeat` seconds", async () => {
  const clock = installFakeClock({
    toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout"],
  });
  let pings = 0;
  let arrived = deferred();
  const peer = await recordingPeer((message) => {
    if (message.HEARTBEAT === "ping") pings++;
    arrived.resolve();
  });
  try {
    const rpc = await AsyncRPC.connect(`tcp://a:b@127.0.0.1:${peer.port}`, { heartbeat: 40 });
    for (let i = 1; i <= 3; i++) {
      arrived = deferred();
      await clock.tickAsync(40_000);
      await arrived.promise;
      assert.equal(pings, i);
    }
    await rpc.close();
  } finally {
    clock.uninstall();
    await peer.close();
  }
});

test("client: a server that never answers the handshake fails connect within connectTimeout", async () => {
  const listener = await listenTcp();
  const accepted = listener.accept();
  try {
    await assert.rejects(
      AsyncRPC.connect(`tcp://a:b@127.0.0.1:${listener.port}`, { connectTimeout: 0.05 }),
      TimeoutException,
    );
  } finally {
    (await accepted).close();
    listener.close();
  }
});

test("client: negotiates len32 with an mprpc server, so payloads may hold the terminator", async () => {
  await withRpc({ compression: "zlib" }, async (rpc) => {
    assert.deepEqual(rpc.remoteInfo?.EXT, ["len32", "cancel", "deadline", "credit", "trace"]);
    const tricky = "before ##PRO-END## after";
    assert.equal(await rpc.echo(tricky), tricky);
    assert.deepEqual(await collect(await rpc.testcorogen(0, 3)), [0, 1, 2]);
  });
});

test("client: concurrent connect() calls share one connection, and close() releases it", async () => {
  await using server = await startServer({}, api);
  await using observer = await AsyncRPC.connect(urlOf(server), { heartbeat: 0 });
  const rpc = new AsyncRPC(urlOf(server), { heartbeat: 1 });
  const [a, b] = await Promise.all([rpc.connect(), rpc.connect()]);
  assert.equal(a, b);
  assert.equal(await observer.system.lenConnections(), 2, "the observer and one for rpc");
  await rpc.close();
  assert.equal(rpc.connected, false);
  // The test's leak check fails here if a second socket or heartbeat interval outlived close().
});

test("client: close() during connect() waits for it and closes the new connection", async () => {
  await using server = await startServer({}, api);
  const rpc = new AsyncRPC(urlOf(server));
  let disconnects = 0;
  rpc.addEventListener("disconnect", () => disconnects++);
  const connecting = rpc.connect();
  await rpc.close();
  await connecting;
  assert.equal(rpc.connected, false);
  await rpc.closed;
  assert.equal(disconnects, 0, "closed on purpose: no disconnect, no reconnect");
});

test("client: an unknown option is a TypeError naming it", () => {
  assert.throws(
    () => new AsyncRPC("tcp://a:b@127.0.0.1:1", { heart_beat: 40 } as never),
    /unknown ClientOptions option 'heart_beat'/,
  );
});
