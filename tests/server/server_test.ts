import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import {
  AsyncRPC,
  callContext,
  RestrictAccessError,
  Server,
  type ServerOptions,
} from "../../mod.ts";
import {
  deferred,
  LogRecorder,
  silentLogger,
  startServer,
  TERM,
  urlOf,
  WireClient,
} from "../helpers.ts";
import { installFakeClock } from "../test_deps.ts";

type Message = Record<string, unknown>;

// Runs `body` with a server and one logged-in wire client, closing both afterwards.
async function withClient(
  options: ServerOptions,
  setup: (server: Server) => void,
  body: (client: WireClient, server: Server) => Promise<void>,
  login = true,
): Promise<void> {
  await using server = await startServer(options, setup);
  const client = await WireClient.open(server.addr.port, { json: options.debug });
  try {
    if (login) assert.equal((await client.login())?.CODE, 100);
    await body(client, server);
  } finally {
    client.close();
  }
}

const basics = (server: Server) => {
  server.registerIntrospectionFunctions();
  server.registerFunction(function testfunc(a: number, b: number) {
    return a + b;
  }, { help: "Adds a and b." });
  server.registerFunction(function echo(x: unknown) {
    return x;
  });
  server.registerFunction(async function* count(n: number) {
    for (let i = 0; i < n; i++) yield i;
  });
  server.registerFunction(function fails(_x: unknown = null) {
    throw new RangeError("out of range");
  });
  server.registerFunction(function join(a: string, b: string) {
    return a + b;
  });
  server.registerFunction(function forbidden() {
    throw new RestrictAccessError("not for you");
  });
};

const body = (m: Message | undefined) => m?.MESSAGE as Message;

test("handshake: the 100 reply carries the service info", async () => {
  await withClient({ version: "1.2", description: "svc", timeout: 30 }, basics, async (client) => {
    const reply = await client.login();
    assert.deepEqual(reply, {
      MPRPC: "0.1",
      CODE: 100,
      VERSION: "1.2",
      DESC: "svc",
      DEBUG: false,
      COMPRESER: null,
      TIMEOUT: 30,
    });
  }, false);
});

test("handshake: wrong credentials get 501 and the connection closes", async () => {
  await withClient({}, basics, async (client) => {
    assert.deepEqual(await client.login("admin", "wrong"), { MPRPC: "0.1", CODE: 501 });
    assert.equal(await client.next(), undefined);
  }, false);
});

test("handshake: an empty auth list accepts only empty credentials, with a 100 reply", async () => {
  await using server = await startServer({ auth: [] }, basics);
  for (
    const [user, pass, code] of [[null, null, 100], ["", "", 100], ["admin", "admin", 501]] as const
  ) {
    const client = await WireClient.open(server.addr.port);
    assert.equal((await client.login(user, pass))?.CODE, code);
    client.close();
  }
});

test("handshake: calls and heartbeats before it get 501 and close", async () => {
  await withClient({}, basics, async (client) => {
    await client.call("1", "testfunc", [1, 2]);
    assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 501 });
    assert.equal(await client.next(), undefined);
  }, false);
  await withClient({}, basics, async (client) => {
    await client.send({ MPRPC: "0.1", HEARTBEAT: "ping" });
    assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 501 });
    assert.equal(await client.next(), undefined);
  }, false);
});

test("handshake: after a fatal error the rest of the same read is ignored", async () => {
  await withClient({}, basics, async (client) => {
    const frame = (m: unknown) => [...client.encode(m), ...TERM];
    const call = (id: string) => frame({ MPRPC: "0.1", ID: id, METHOD: "testfunc", ARGS: [1, 2] });
    await client.sendRaw(new Uint8Array([...call("1"), ...call("2"), ...call("3")]));
    assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 501 });
    assert.equal(await client.next(), undefined, "one 501, then the connection closes");
  }, false);
});

test("handshake: a connection that never authenticates is closed without a reply", async () => {
  await withClient({ handshakeTimeout: 0.05 }, basics, async (client) => {
    assert.equal(await client.next(), undefined);
  }, false);
});

test("heartbeat: ping gets pong", async () => {
  await withClient({}, basics, async (client) => {
    await client.send({ MPRPC: "0.1", HEARTBEAT: "ping" });
    assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 101, HEARTBEAT: "pong" });
  });
});

test("idle timeout: 504 and close after TIMEOUT seconds without a write; pings keep it open", async () => {
  const clock = installFakeClock({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  try {
    await withClient({ timeout: 1 }, basics, async (client) => {
      for (let i = 0; i < 4; i++) {
        await clock.tickAsync(600);
        await client.send({ MPRPC: "0.1", HEARTBEAT: "ping" });
        assert.equal((await client.next())?.CODE, 101);
      }
      await clock.tickAsync(999);
      await client.send({ MPRPC: "0.1", HEARTBEAT: "ping" });
      assert.equal((await client.next())?.CODE, 101, "still open just before the timeout");
      await clock.tickAsync(1000);
      assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 504 });
      assert.equal(await client.next(), undefined);
    });
  } finally {
    clock.uninstall();
  }
});

// A client that logs in (idle timeout 1 s), calls big() `calls` times, each answer 16 MiB (more
// than the sockets' buffers hold), and never reads: the first answer's write stalls, and a
// second one waits behind it, its call not over. Then 1 s passes (the idle timeout: the 504 is
// queued behind them), and 10 s (the grace to take it), in fake time. Whether the server closed
// the session by then ("still open" after 5 real seconds: fails, not hangs), and its log.
async function stopsReading(calls: number): Promise<{ outcome: unknown; logger: LogRecorder }> {
  const realTimeout = globalThis.setTimeout;
  const clock = installFakeClock({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  const logger = new LogRecorder();
  let made = 0;
  const answered = deferred();
  const setup = (server: Server) =>
    server.registerFunction(function big() {
      if (++made === calls) answered.resolve();
      return new Uint8Array(16 * 1024 * 1024);
    });
  try {
    let outcome: unknown;
    await withClient({ timeout: 1, accessLog: true, logger }, setup, async (client) => {
      for (let i = 0; i < calls; i++) await client.call(String(i), "big");
      await answered.promise;
      const closed = logger.next("close");
      await clock.tickAsync(1000);
      await clock.tickAsync(10_000);
      outcome = await Promise.race([
        closed.then(() => "closed"),
        new Promise((resolve) => realTimeout(() => resolve("still open"), 5000)),
      ]);
    });
    return { outcome, logger };
  } finally {
    clock.uninstall();
  }
}

test("idle timeout: a client that stops reading is cut off 10 s after its 504, not held for ever", async () => {
  assert.equal((await stopsReading(1)).outcome, "closed");
});

test("idle timeout: a client that stops reading is timed out even while its calls wait to be answered", async () => {
  const { outcome, logger } = await stopsReading(2);
  assert.equal(outcome, "closed");
  assert.ok(logger.records.some((record) => record.event === "idle timeout"));
});

test("calls: answers come in completion order; a slow call delays no other", async () => {
  const gate = deferred();
  const setup = (server: Server) => {
    server.registerFunction(async function slow() {
      await gate.promise;
      return "slow";
    });
    server.registerFunction(function fast() {
      return "fast";
    });
    server.registerFunction(function open() {
      gate.resolve();
      return "opened";
    });
  };
  await withClient({}, setup, async (client) => {
    await client.call("s", "slow");
    await client.call("f", "fast");
    assert.deepEqual(body(await client.next()), { ID: "f", RESULT: "fast" });
    await client.call("o", "open");
    const next = [body(await client.next()), body(await client.next())];
    assert.deepEqual(next, [{ ID: "o", RESULT: "opened" }, { ID: "s", RESULT: "slow" }]);
  });
});

test("calls: positional and keyword arguments; undefined results are nil", async () => {
  await withClient({}, (s) => {
    basics(s);
    s.registerFunction(function nothing() {});
  }, async (client) => {
    await client.call("1", "testfunc", [1], { KWARGS: { b: 2 } });
    assert.deepEqual(await client.next(), {
      MPRPC: "0.1",
      CODE: 200,
      MESSAGE: { ID: "1", RESULT: 3 },
    });
    await client.call("2", "nothing");
    assert.deepEqual(body(await client.next()), { ID: "2", RESULT: null });
  });
});

test("streams: 201, one 202 per item, 206", async () => {
  await withClient({}, basics, async (client) => {
    await client.call("s", "count", [3]);
    const codes = [];
    const items = [];
    for (let m = await client.next();; m = await client.next()) {
      codes.push(m?.CODE);
      if (m?.CODE === 202) items.push(body(m).RESULT);
      if (m?.CODE !== 201 && m?.CODE !== 202) break;
    }
    assert.deepEqual(codes, [201, 202, 202, 202, 206]);
    assert.deepEqual(items, [0, 1, 2]);
  });
});

test("streams: a generator that throws midway ends its stream with the error", async () => {
  await withClient({}, (s) => {
    s.registerFunction(async function* broken() {
      yield 1;
      throw new TypeError("broke");
    });
  }, async (client) => {
    await client.call("b", "broken");
    assert.equal((await client.next())?.CODE, 201);
    assert.equal((await client.next())?.CODE, 202);
    const error = await client.next();
    assert.equal(error?.CODE, 404);
    assert.equal(body(error).EXCEPTION, "TypeError");
    assert.equal(body(error).MESSAGE, "broke");
  });
});

test("errors: 401, 406, 402, 404 and a handler's own MprpcError code, with DATA", async () => {
  await withClient({}, basics, async (client) => {
    const expect = async (method: string, args: unknown[], code: number, exception?: string) => {
      await client.call(method, method, args);
      const reply = await client.next();
      assert.equal(reply?.CODE, code, method);
      assert.equal(body(reply).ID, method);
      if (exception) assert.equal(body(reply).EXCEPTION, exception);
      return body(reply);
    };
    await expect("nope", [], 401, "NotFindError");
    await expect("system.nope", [], 406, "UnsupportSysMethodError");
    await expect("testfunc", [1, 2, 3], 402, "ParamError");
    const thrown = await expect("fails", [7], 404, "RangeError");
    assert.equal(thrown.MESSAGE, "out of range");
    assert.deepEqual(thrown.DATA, { METHOD: "fails", ARGS: [7], KWARGS: {} });
    await expect("forbidden", [], 403, "RestrictAccessError");
  });
});

test("debug mode: JSON on the wire and the stack as FRAME, with no access log", async () => {
  const logger = new LogRecorder();
  await withClient({ debug: true, logger }, basics, async (client) => {
    await client.call("x", "fails");
    const data = body(await client.next()).DATA as Message;
    assert.match(String(data.FRAME), /^RangeError: out of range\n\s+at .*fails/);
  });
  assert.deepEqual(logger.records, []);
});

test("access log: each connection and call as structured fields, in any wire mode", async () => {
  for (const debug of [false, true]) {
    const logger = new LogRecorder();
    const { records } = logger;
    await withClient({ debug, logger, accessLog: true }, basics, async (client) => {
      await client.call("x", "fails");
      await client.next();
      await client.call("y", "testfunc", [1, 2]);
      await client.next();
    });
    await logger.logged("close");
    const events = records.map((r) => [r.level, r.event]);
    assert.deepEqual(events, [
      ["info", "connect"],
      ["info", "call"],
      ["info", "call"],
      ["info", "close"],
    ]);
    const [, failed, answered] = records.map((r) => r.fields);
    assert.match(String(failed.peer), /^127\.0\.0\.1:\d+$/);
    assert.equal(failed.user, "admin");
    assert.deepEqual([failed.id, failed.method, failed.code], ["x", "fails", 404]);
    assert.deepEqual([answered.id, answered.method, answered.code], ["y", "testfunc", 200]);
    assert.equal(typeof answered.ms, "number");
  }
});

test("a refused login is logged as a warning with the peer and the user name", async () => {
  const logger = new LogRecorder();
  await using server = await startServer({ logger }, basics);
  const client = await WireClient.open(server.addr.port);
  try {
    assert.equal((await client.login("mallory", "guess"))?.CODE, 501);
    const fields = await logger.logged("login refused");
    assert.equal(logger.records[0].level, "warn");
    assert.equal(fields.user, "mallory");
  } finally {
    client.close();
  }
});

test("malformed calls get 400 with their ID", async () => {
  await withClient({}, basics, async (client) => {
    const cases: [Message, RegExp][] = [
      [{ METHOD: 5 }, /METHOD/],
      [{ METHOD: "testfunc", ARGS: "1,2" }, /ARGS/],
      [{ METHOD: "testfunc", ARGS: [], KWARGS: [1] }, /KWARGS/],
      [{ METHOD: "testfunc", ARGS: [1, 2], RETURN: "yes" }, /RETURN/],
    ];
    for (const [fields, pattern] of cases) {
      await client.send({ MPRPC: "0.1", ID: "bad", RETURN: true, ...fields });
      const reply = await client.next();
      assert.equal(reply?.CODE, 400);
      assert.equal(body(reply).ID, "bad");
      assert.match(String(body(reply).MESSAGE), pattern);
    }
  });
});

test("a call ID already in flight on the connection gets 400", async () => {
  const gate = deferred();
  await withClient({}, (s) => {
    s.registerFunction(function wait() {
      return gate.promise;
    });
  }, async (client) => {
    await client.call("same", "wait");
    await client.call("same", "wait");
    const reply = await client.next();
    assert.equal(reply?.CODE, 400);
    assert.match(String(body(reply).MESSAGE), /already running/);
    gate.resolve();
    assert.equal((await client.next())?.CODE, 200);
  });
});

test("a result holding the terminator fails only that call, with 405", async () => {
  await withClient({}, basics, async (client) => {
    await client.call("bad", "join", ["a##PRO-", "END##b"]);
    const reply = await client.next();
    assert.equal(reply?.CODE, 405);
    assert.equal(body(reply).ID, "bad");
    assert.deepEqual((body(reply).DATA as Message).ARGS, [], "the echoed arguments are dropped");
    await client.call("ok", "echo", ["fine"]);
    assert.deepEqual(body(await client.next()), { ID: "ok", RESULT: "fine" });
  });
});

test("a stream item holding the terminator ends that stream with 405 and stops the generator", async () => {
  const stopped = deferred();
  await withClient({}, (s) => {
    s.registerFunction(async function* leaky() {
      try {
        yield "ok";
        yield new TextEncoder().encode("x##PRO-END##");
        yield "never";
      } finally {
        stopped.resolve();
      }
    });
  }, async (client) => {
    await client.call("l", "leaky");
    assert.deepEqual([(await client.next())?.CODE, (await client.next())?.CODE], [201, 202]);
    assert.equal((await client.next())?.CODE, 405);
    await stopped.promise;
    await client.send({ MPRPC: "0.1", HEARTBEAT: "ping" });
    assert.equal((await client.next())?.CODE, 101, "nothing else was sent for the stream");
  });
});

test("RETURN false sends nothing; system.getresult returns the value under its own ID", async () => {
  await withClient({}, basics, async (client) => {
    await client.send({
      MPRPC: "0.1",
      ID: "later",
      METHOD: "testfunc",
      RETURN: false,
      ARGS: [2, 3],
    });
    await client.send({ MPRPC: "0.1", HEARTBEAT: "ping" });
    assert.equal((await client.next())?.CODE, 101);
    await client.call("get", "system.getresult", ["later"]);
    assert.deepEqual(await client.next(), {
      MPRPC: "0.1",
      CODE: 200,
      MESSAGE: { ID: "get", RESULT: 5 },
    });
    await client.call("again", "system.getresult", ["later"]);
    assert.equal((await client.next())?.CODE, 400, "an outcome is handed out once");
  });
});

test("system.getresult replays a stream, and an error, under its own ID", async () => {
  await withClient({}, basics, async (client) => {
    await client.send({ MPRPC: "0.1", ID: "s", METHOD: "count", RETURN: false, ARGS: [2] });
    await client.send({ MPRPC: "0.1", ID: "e", METHOD: "fails", RETURN: false, ARGS: [] });
    await client.call("g1", "system.getresult", [], { KWARGS: { id: "s" } });
    const stream = [];
    for (let i = 0; i < 4; i++) stream.push(await client.next());
    assert.deepEqual(stream.map((m) => [m?.CODE, body(m).ID, body(m).RESULT]), [
      [201, "g1", undefined],
      [202, "g1", 0],
      [202, "g1", 1],
      [206, "g1", undefined],
    ]);
    await client.call("g2", "system.getresult", ["e"]);
    const error = await client.next();
    assert.deepEqual([error?.CODE, body(error).ID, body(error).EXCEPTION], [
      404,
      "g2",
      "RangeError",
    ]);
  });
});

test("system.getresult waits for a call that is still running", async () => {
  const gate = deferred<string>();
  await withClient({}, (s) => {
    s.registerFunction(function wait() {
      return gate.promise;
    });
  }, async (client) => {
    await client.send({ MPRPC: "0.1", ID: "w", METHOD: "wait", RETURN: false, ARGS: [] });
    await client.call("g", "system.getresult", ["w"]);
    gate.resolve("done");
    assert.deepEqual(body(await client.next()), { ID: "g", RESULT: "done" });
  });
});

test("introspection: listMethods, methodSignature, methodHelp", async () => {
  await withClient({}, basics, async (client) => {
    const call = async (method: string, args: unknown[] = []) => {
      await client.call(method, method, args);
      return body(await client.next()).RESULT;
    };
    assert.deepEqual(await call("system.listMethods"), [
      "count",
      "echo",
      "fails",
      "forbidden",
      "join",
      "system.getresult",
      "system.lenConnections",
      "system.lenUndoneTasks",
      "system.listMethods",
      "system.methodHelp",
      "system.methodSignature",
      "testfunc",
    ]);
    assert.equal(await call("system.methodSignature", ["testfunc"]), "(a, b)");
    assert.equal(await call("system.methodSignature", ["nope"]), "");
    assert.equal(await call("system.methodHelp", ["testfunc"]), "Adds a and b.");
    assert.equal(await call("system.methodHelp", ["echo"]), "");
  });
});

test("introspection: lenConnections and lenUndoneTasks", async () => {
  const gate = deferred();
  await withClient({}, (s) => {
    basics(s);
    s.registerFunction(function wait() {
      return gate.promise;
    });
  }, async (client, server) => {
    const other = await WireClient.open(server.addr.port);
    try {
      await other.login();
      await client.call("n", "system.lenConnections");
      assert.equal(body(await client.next()).RESULT, 2);
      await other.call("w", "wait");
      await client.call("t", "system.lenUndoneTasks");
      assert.equal(body(await client.next()).RESULT, 2, "the waiting call and this one");
      gate.resolve();
      assert.equal((await other.next())?.CODE, 200);
    } finally {
      other.close();
    }
  });
});

test("bad input: oversize, undecodable and wrong-version messages get 505 and close", async () => {
  const cases: [string, (client: WireClient) => Promise<void>][] = [
    ["oversize", (c) => c.sendRaw(new Uint8Array(2000).fill(0x41))],
    ["undecodable", (c) => c.sendRaw(new Uint8Array([0xc1, ...TERM]))],
    ["wrong version", (c) => c.send({ MPRPC: "0.2", HEARTBEAT: "ping" })],
    ["no version", (c) => c.send({ HEARTBEAT: "ping" })],
  ];
  for (const [name, send] of cases) {
    await withClient({ maxMessageSize: 1024 }, basics, async (client) => {
      await send(client);
      assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 505 }, name);
      assert.equal(await client.next(), undefined, name);
    });
  }
});

test("bad input: a decodable non-message gets 506 and the connection stays usable", async () => {
  await withClient({}, basics, async (client) => {
    for (const value of [42, ["MPRPC", "0.1"], { MPRPC: "0.1", WHAT: 1 }]) {
      await client.send(value);
      assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 506 });
    }
    await client.call("1", "testfunc", [1, 1]);
    assert.equal(body(await client.next()).RESULT, 2);
  });
});

test("bad input on one connection never disturbs another", async () => {
  await withClient({}, basics, async (client, server) => {
    const gate = deferred();
    server.registerFunction(function hold() {
      return gate.promise.then(() => "held");
    });
    await client.call("h", "hold");
    const rogue = await WireClient.open(server.addr.port);
    await rogue.login();
    await rogue.sendRaw(new Uint8Array([0xc1, ...TERM]));
    assert.equal((await rogue.next())?.CODE, 505);
    rogue.close();
    gate.resolve();
    assert.deepEqual(body(await client.next()), { ID: "h", RESULT: "held" });
  });
});

test("close: running calls finish, new calls get 503, then connections close", async () => {
  const gate = deferred();
  const started = deferred();
  await using server = await startServer({}, (s) => {
    basics(s);
    s.registerFunction(function hold() {
      started.resolve();
      return gate.promise.then(() => "finished");
    });
  });
  const client = await WireClient.open(server.addr.port);
  try {
    await client.login();
    await client.call("h", "hold");
    await started.promise;
    const closing = server.close();
    await client.call("late", "testfunc", [1, 2]);
    const refused = await client.next();
    assert.deepEqual([refused?.CODE, body(refused).ID], [503, "late"]);
    gate.resolve();
    assert.deepEqual(body(await client.next()), { ID: "h", RESULT: "finished" });
    assert.equal(await client.next(), undefined);
    await closing;
  } finally {
    client.close();
  }
});

test("close: a call that outlives the grace period is cut off", async () => {
  const never = new Promise(() => {});
  await using server = await startServer({ gracePeriod: 0.05 }, (s) => {
    s.registerFunction(function hang() {
      return never;
    });
  });
  const client = await WireClient.open(server.addr.port);
  try {
    await client.login();
    await client.call("h", "hang");
    await server.close();
    assert.equal(await client.next(), undefined);
  } finally {
    client.close();
  }
});

test("a result MessagePack cannot encode fails only that call, with 405", async () => {
  await withClient({}, (s) => {
    s.registerFunction(function big() {
      return 2n ** 70n;
    });
    s.registerFunction(function cyclic() {
      const a: Record<string, unknown> = {};
      a.self = a;
      return a;
    });
    s.registerFunction(async function* badItem() {
      yield () => {};
    });
  }, async (client) => {
    for (const method of ["big", "cyclic", "badItem"]) {
      await client.call(method, method);
      let reply = await client.next();
      if (reply?.CODE === 201) reply = await client.next();
      assert.equal(reply?.CODE, 405, method);
      assert.equal(body(reply).ID, method);
      assert.match(String(body(reply).MESSAGE), /cannot be encoded/);
    }
  });
});

test("len32: a client that asks gets EXT and length-prefixed frames; the terminator is then just data", async () => {
  await withClient({}, basics, async (client) => {
    const reply = await client.login("admin", "admin", ["len32", "unknown-extension"]);
    assert.deepEqual(reply?.EXT, ["len32"]);
    client.length32 = true;
    await client.call("j", "join", ["a##PRO-", "END##b"]);
    assert.deepEqual(body(await client.next()), { ID: "j", RESULT: "a##PRO-END##b" });
    await client.call("e", "echo", ["x##PRO-END##y"]);
    assert.deepEqual(body(await client.next()), { ID: "e", RESULT: "x##PRO-END##y" });
  }, false);
});

test("len32: a client that does not ask (pymprpc) gets no EXT and stays on terminators", async () => {
  await withClient({}, basics, async (client) => {
    const reply = await client.login();
    assert.equal("EXT" in reply!, false);
    await client.call("1", "testfunc", [1, 2]);
    assert.equal(body(await client.next()).RESULT, 3);
  }, false);
});

// A bound on waits that must end by themselves: a regression then fails instead of hanging.
function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

test("streams: a reader that leaves under backpressure has its generator finalized at once", async () => {
  const producing = deferred();
  const finalized = deferred();
  let produced = 0;
  await using server = await startServer({ gracePeriod: 30 }, (s) => {
    s.registerIntrospectionFunctions();
    s.registerFunction(async function* flood() {
      try {
        while (true) {
          yield "y".repeat(256 * 1024);
          if (++produced === 8) producing.resolve();
        }
      } finally {
        finalized.resolve();
      }
    });
  });
  const reader = await WireClient.open(server.addr.port);
  await reader.login();
  await reader.call("f", "flood");
  // 2 MiB produced and never read: more than the joiner's high-water mark.
  await producing.promise;
  reader.close();
  await within(finalized.promise, "the generator's finally");
  const client = await WireClient.open(server.addr.port);
  try {
    await client.login();
    await client.call("t", "system.lenUndoneTasks");
    assert.deepEqual(body(await client.next()), { ID: "t", RESULT: 1 }, "only this call");
  } finally {
    client.close();
  }
  await within(server.close(), "server.close() with a 30 s grace period");
});

const later = (client: WireClient, id: string, method: string, args: unknown[] = []) =>
  client.call(id, method, args, { RETURN: false });

test("RETURN false: a second call with an ID already kept gets 400, and the first outcome stays", async () => {
  await withClient({}, basics, async (client) => {
    await later(client, "dup", "testfunc", [1, 2]);
    await later(client, "dup", "testfunc", [10, 20]);
    const refused = await client.next();
    assert.deepEqual([refused?.CODE, body(refused).ID], [400, "dup"]);
    assert.match(String(body(refused).MESSAGE), /already kept/);
    await client.call("g", "system.getresult", ["dup"]);
    assert.deepEqual(body(await client.next()), { ID: "g", RESULT: 3 });
  });
});

test("RETURN false: past maxStoredResults a call gets 503 and does not run", async () => {
  let runs = 0;
  await withClient({ maxStoredResults: 2 }, (s) => {
    s.registerFunction(function counted() {
      return ++runs;
    });
  }, async (client) => {
    for (const id of ["a", "b", "c"]) await later(client, id, "counted");
    const refused = await client.next();
    assert.deepEqual([refused?.CODE, body(refused).ID], [503, "c"]);
    assert.equal(runs, 2);
    await client.call("g", "system.getresult", ["a"]);
    assert.deepEqual(body(await client.next()), { ID: "g", RESULT: 1 });
    await later(client, "d", "counted");
    await client.call("h", "system.getresult", ["d"]);
    assert.deepEqual(body(await client.next()), { ID: "h", RESULT: 3 }, "taking one made room");
  });
});

test("RETURN false: an endless stream is kept only up to its share of maxStoredResultBytes, then stopped", async () => {
  const stopped = deferred();
  await withClient({ maxStoredResultBytes: 4000 }, (s) => {
    s.registerFunction(async function* endless() {
      try {
        for (let i = 0;; i++) yield "x".repeat(100);
      } finally {
        stopped.resolve();
      }
    });
    s.registerFunction(function big() {
      return "y".repeat(2000);
    });
    s.registerFunction(function small() {
      return "z".repeat(500);
    });
  }, async (client) => {
    await later(client, "s", "endless");
    await stopped.promise;
    await client.call("g", "system.getresult", ["s"]);
    const codes: number[] = [];
    for (let m = await client.next(); m; m = await client.next()) {
      codes.push(Number(m.CODE));
      if (Number(m.CODE) >= 400) {
        assert.match(String(body(m).MESSAGE), /4000 bytes in all, a quarter of it for one/);
        break;
      }
    }
    assert.equal(codes[0], 201);
    assert.equal(codes.at(-1), 405);
    const items = codes.filter((c) => c === 202).length;
    assert.ok(items > 0 && items * 100 <= 1000, `${items} items kept: at most a quarter`);
    await later(client, "e", "endless");
    await later(client, "z", "small");
    await client.call("k", "system.getresult", ["z"]);
    assert.equal((await client.next())?.CODE, 200, "another endless stream left room for others");
    await later(client, "b", "big");
    await client.call("h", "system.getresult", ["b"]);
    assert.equal((await client.next())?.CODE, 405, "a value over the budget is kept as a 405");
  });
});

test("options: an unknown option is a TypeError naming it, for the server and each register call", async () => {
  assert.throws(
    () => new Server({ port: 0, heart_beat: 40 } as ServerOptions),
    /unknown ServerOptions option 'heart_beat'/,
  );
  const server = new Server({ port: 0 });
  assert.throws(
    () => server.registerFunction(function f() {}, { nmae: "g" } as never),
    /unknown MethodOptions option 'nmae'/,
  );
  assert.throws(
    () => server.registerInstance({}, { perfix: "x" } as never),
    /unknown InstanceOptions option 'perfix'/,
  );
  assert.throws(
    () => server.registerModule("file:///m.ts", { executor: "threads" } as never),
    /executor must be "pool" or "inline"/,
  );
  await server.close();
});

test("listen: a port already in use is an error naming the address", async () => {
  await using first = await startServer();
  const second = new Server({ hostname: "127.0.0.1", port: first.addr.port, logger: silentLogger });
  await assert.rejects(
    second.listen(),
    new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.addr.port}`),
  );
  await second.close();
});

test("call context: async, plain and streaming handlers learn their call without a parameter", async () => {
  await withClient({}, (s) => {
    s.registerFunction(async function whoami() {
      await Promise.resolve();
      const { id, method, peer, user, signal } = callContext();
      return { id, method, peer, user, aborted: signal.aborted };
    });
    s.registerFunction(function plain() {
      return callContext().method;
    });
    s.registerFunction(async function* ids() {
      yield callContext().id;
      await Promise.resolve();
      yield callContext().method;
    });
  }, async (client) => {
    await client.call("w", "whoami");
    const result = body(await client.next()).RESULT as Message;
    assert.match(String(result.peer), /^127\.0\.0\.1:\d+$/);
    assert.deepEqual({ ...result, peer: "" }, {
      id: "w",
      method: "whoami",
      peer: "",
      user: "admin",
      aborted: false,
    });
    await client.call("p", "plain");
    assert.deepEqual(body(await client.next()), { ID: "p", RESULT: "plain" });
    await client.call("s", "ids");
    const items = [];
    for (let m = await client.next(); m?.CODE !== 206; m = await client.next()) {
      if (m?.CODE === 202) items.push(body(m).RESULT);
    }
    assert.deepEqual(items, ["s", "ids"]);
  });
});

test("call context: the signal aborts when the caller's connection closes", async () => {
  const started = deferred();
  const aborted = deferred();
  await using server = await startServer({}, (s) => {
    s.registerFunction(function wait() {
      const { signal } = callContext();
      signal.addEventListener("abort", () => aborted.resolve());
      started.resolve();
      return new Promise((resolve) => signal.addEventListener("abort", resolve));
    });
  });
  const client = await WireClient.open(server.addr.port);
  await client.login();
  await client.call("w", "wait");
  await started.promise;
  client.close();
  await aborted.promise;
});

test("RETURN false: the call outlives its connection; another connection fetches the outcome", async () => {
  const gate = deferred();
  const started = deferred();
  const logger = new LogRecorder();
  await using server = await startServer({ logger, accessLog: true }, (s) => {
    s.registerFunction(async function* slow() {
      const { signal } = callContext();
      started.resolve();
      await gate.promise;
      for (let i = 0; i < 3; i++) yield signal.aborted ? "aborted" : i;
    });
  });
  const sender = await WireClient.open(server.addr.port);
  await sender.login();
  await sender.call("later", "slow", [], { RETURN: false });
  await started.promise;
  sender.close();
  await logger.logged("close"); // the server has seen the sender's connection end
  const fetcher = await WireClient.open(server.addr.port);
  try {
    await fetcher.login();
    gate.resolve();
    await fetcher.call("g", "system.getresult", ["later"]);
    const items = [];
    for (let m = await fetcher.next(); m?.CODE !== 206; m = await fetcher.next()) {
      assert.ok(m && Number(m.CODE) < 300, JSON.stringify(m));
      if (m.CODE === 202) items.push(body(m).RESULT);
    }
    assert.deepEqual(items, [0, 1, 2]);
  } finally {
    fetcher.close();
  }
});

test("listen: concurrent calls bind one port; close() during listen() closes it too", async () => {
  const server = new Server({ hostname: "127.0.0.1", port: 0, logger: silentLogger });
  await Promise.all([server.listen(), server.listen()]);
  const client = await WireClient.open(server.addr.port);
  assert.equal((await client.login())?.CODE, 100);
  client.close();
  await server.close();
  // The test's leak check fails here if a second listener outlived close().
  const other = new Server({ hostname: "127.0.0.1", port: 0, logger: silentLogger });
  const listening = other.listen();
  await other.close();
  await listening;
  await assert.rejects(other.listen(), /the server is closed/);
});

test("big answers in a row, on several connections at once, each arrive whole (their write buffers are lent and given back)", async () => {
  await using server = await startServer({}, (s) => {
    s.registerFunction(function echo(x: Uint8Array) {
      return x;
    });
  });
  const clients = await Promise.all([1, 2, 3].map(() => AsyncRPC.connect(urlOf(server))));
  try {
    // Sizes on both sides of the pool's threshold, each payload filled with its own byte: an
    // answer framed in a buffer still being written for another would come back mixed.
    const sizes = [70_000, 300_000, 100_000, 1_200_000, 65_000, 500_000];
    const calls = clients.flatMap((rpc, c) =>
      sizes.map(async (size, i) => {
        const fill = (c * sizes.length + i) % 251;
        const back = await rpc.echo(new Uint8Array(size).fill(fill)) as Uint8Array;
        assert.equal(back.length, size);
        assert.ok(back.every((byte) => byte === fill), `answer ${c}/${i} came back whole`);
      })
    );
    await Promise.all(calls);
  } finally {
    await Promise.all(clients.map((rpc) => rpc.close()));
  }
});
