/**
 * The server against hostile peers, over real sockets: maxConnections, the refusal of the default
 * credentials on a non-loopback address, and failed logins throttled per remote address.
 */
import assert from "node:assert/strict";
import { connectTcp, test } from "../test_platform.deno.ts";
import { AsyncRPC, LoginError, RpcUnavailableException, Server } from "../../mod.ts";
import {
  concat,
  indexOf,
  LogRecorder,
  silentLogger,
  startServer,
  TERM,
  urlOf,
  WireClient,
  within,
} from "../helpers.ts";
import { decode, encode, installFakeClock } from "../test_deps.ts";
import { deferred } from "../../src/util/deferred.ts";
import { Wakeup } from "../../src/util/wakeup.ts";
import { addressKey, LoginThrottle, MAX_DELAY, QUIET } from "../../src/server/login_throttle.ts";

const add = (server: Server) =>
  server.registerFunction(function add(a: number, b: number) {
    return a + b;
  });

// A wire client that logs in and calls add(1, 2); the answer's code.
async function loginAndCall(client: WireClient): Promise<unknown> {
  assert.equal((await client.login())?.CODE, 100);
  await client.call("1", "add", [1, 2]);
  return (await client.next())?.CODE;
}

test("maxConnections: past it a connection gets the connection-level 503 and is closed; open ones go on", async () => {
  const logger = new LogRecorder();
  await using server = await startServer({ maxConnections: 2, logger }, add);
  const first = await WireClient.open(server.addr.port);
  const second = await WireClient.open(server.addr.port); // counted before it logs in
  const third = await WireClient.open(server.addr.port);
  try {
    assert.deepEqual(await third.next(), { MPRPC: "0.1", CODE: 503 });
    assert.equal(await third.next(), undefined, "closed right after the 503, with no handshake");
    assert.equal(await loginAndCall(first), 200);
    assert.equal(await loginAndCall(second), 200);
    const record = await logger.logged("connection refused");
    assert.equal(record.maxConnections, 2);
    assert.equal(record.refused, 1);
    assert.match(String(record.peer), /127\.0\.0\.1:\d+$/);
  } finally {
    first.close();
    second.close();
    third.close();
  }
});

test("maxConnections: a connection that closes makes room for a new one", async () => {
  await using server = await startServer({ maxConnections: 2 }, (server) => {
    add(server);
    server.registerIntrospectionFunctions();
  });
  const held = await WireClient.open(server.addr.port);
  try {
    await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
    const refused = await WireClient.open(server.addr.port);
    assert.deepEqual(await refused.next(), { MPRPC: "0.1", CODE: 503 });
    refused.close();
    held.close();
    while (await rpc.system.lenConnections() !== 1) { // until the server has seen it leave
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const next = await WireClient.open(server.addr.port);
    assert.equal(await loginAndCall(next), 200);
    next.close();
  } finally {
    held.close();
  }
});

test("maxConnections: mprpc's client is told 503 (RpcUnavailableException) by a full server", async () => {
  await using server = await startServer({ maxConnections: 1 }, add);
  await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
  await assert.rejects(
    AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`),
    (err) => err instanceof RpcUnavailableException && err.code === 503,
  );
  assert.equal(await rpc.add(1, 2), 3, "the open connection is unaffected");
});

test("maxConnections: a flood of refused connections is a few log records that count them all", async () => {
  const logger = new LogRecorder();
  const server = await startServer({ maxConnections: 1, logger }, add);
  const held = await WireClient.open(server.addr.port);
  try {
    const flood = await Promise.all(
      Array.from({ length: 30 }, () => WireClient.open(server.addr.port)),
    );
    for (const client of flood) {
      assert.equal((await client.next())?.CODE, 503);
      client.close();
    }
    assert.equal(await loginAndCall(held), 200);
  } finally {
    held.close();
    await server.close(); // logs the refusals not logged yet
  }
  const records = logger.records.filter((record) => record.event === "connection refused");
  assert.ok(records.length <= 2, `${records.length} records for one flood`);
  assert.equal(records.reduce((sum, record) => sum + Number(record.fields.refused), 0), 30);
  assert.ok(records.every((record) => record.level === "warn"));
});

test("maxConnections: a whole number above 0, or Infinity", () => {
  for (const maxConnections of [0, -1, 1.5, NaN, "10" as unknown as number]) {
    assert.throws(() => new Server({ maxConnections }), /maxConnections must be a whole number/);
  }
  new Server({ maxConnections: Infinity });
  new Server({ maxConnections: 1 });
});

test("default credentials: a non-loopback hostname without auth is refused, saying what to pass", () => {
  for (const hostname of ["0.0.0.0", "::", "192.168.1.10", "[::]", "fe80::1", "example.com"]) {
    assert.throws(() => new Server({ hostname }), (err) => {
      assert.ok(err instanceof TypeError);
      assert.match(err.message, new RegExp(`listen on \\S*${hostname.replace(/[[\].]/g, "\\$&")}`));
      assert.match(err.message, /default credentials admin\/admin/);
      assert.match(err.message, /auth: \[\["user", "password"\]\]/);
      assert.match(err.message, /hostname: "127\.0\.0\.1"/);
      return true;
    });
  }
});

test("default credentials: loopback addresses, and any explicit auth, are the caller's choice", () => {
  for (const hostname of ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]", undefined]) {
    new Server({ hostname });
  }
  new Server({ hostname: "0.0.0.0", auth: [["app", "s3cret"]] });
  new Server({ hostname: "0.0.0.0", auth: [["admin", "admin"]] });
  new Server({ hostname: "::", auth: [] });
});

// Logins from one address: refused ones wait 0, 100, 200, 400 ms. Date is frozen, so that each
// wait is exactly the throttle's step; the timers run in real time.
test("throttling: each failed login from an address makes its next login wait twice as long", async () => {
  const clock = installFakeClock({ toFake: ["Date"] });
  const logger = new LogRecorder();
  try {
    await using server = await startServer({ logger }, add);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await WireClient.open(server.addr.port);
      const started = performance.now();
      assert.deepEqual(await client.login("admin", `guess ${i}`), { MPRPC: "0.1", CODE: 501 });
      waits.push(performance.now() - started);
      assert.equal(await client.next(), undefined);
      client.close();
    }
    const refused = logger.records.filter((record) => record.event === "login refused");
    assert.deepEqual(refused.map((record) => record.fields.delay), [0, 100, 200, 400]);
    assert.ok(refused.every((record) => record.level === "warn"));
    for (const [i, wait] of waits.entries()) {
      assert.ok(wait >= [0, 100, 200, 400][i] - 5, `login ${i} answered after ${wait} ms`);
    }
    // Right credentials wait their turn as well (answered at once, they would tell a guess that
    // hit from one that missed), and then pass.
    const client = await WireClient.open(server.addr.port);
    const started = performance.now();
    assert.equal(await loginAndCall(client), 200);
    assert.ok(performance.now() - started >= 795, "a success from the address waits too");
    client.close();
  } finally {
    clock.uninstall();
  }
});

test("throttling: logins from one address on many connections at once are checked one step apart", async () => {
  const clock = installFakeClock({ toFake: ["Date"] });
  const logger = new LogRecorder();
  try {
    await using server = await startServer({ logger }, add);
    for (let i = 0; i < 2; i++) {
      const client = await WireClient.open(server.addr.port);
      assert.equal((await client.login("admin", "guess"))?.CODE, 501);
      client.close();
    }
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => WireClient.open(server.addr.port)),
    );
    await Promise.all(clients.map(async (client, i) => {
      assert.equal((await client.login("admin", `guess ${i}`))?.CODE, 501);
      client.close();
    }));
    const delays = logger.records.filter((record) => record.event === "login refused")
      .map((record) => record.fields.delay);
    // After two failures the step is 200 ms: the four are checked 200, 400, 600 and 800 ms on.
    assert.deepEqual(delays.slice(2), [200, 400, 600, 800]);
  } finally {
    clock.uninstall();
  }
});

test("throttling: a login whose turn is past the handshake timeout gets 501 at once, unchecked, and a flood of them is one record", async () => {
  const clock = installFakeClock({ toFake: ["Date"] });
  const logger = new LogRecorder();
  try {
    await using server = await startServer({ logger, handshakeTimeout: 1.5 }, add);
    for (let i = 0; i < 4; i++) { // waits 0, 100, 200, 400: the next step is 800 ms
      const client = await WireClient.open(server.addr.port);
      assert.equal((await client.login("admin", "guess"))?.CODE, 501);
      client.close();
    }
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => WireClient.open(server.addr.port)),
    );
    const order: string[] = [];
    await Promise.all(clients.map(async (client, i) => {
      // The right password: only the login whose turn comes within 1.5 s is checked.
      const reply = await client.login();
      order.push(`${i}:${reply?.CODE}`);
      client.close();
    }));
    const passed = order.filter((entry) => entry.endsWith(":100"));
    assert.equal(passed.length, 1, `one checked, after 800 ms: ${order}`);
    assert.equal(order.at(-1), passed[0], "the three refused unchecked were answered first");
    const throttled = logger.records.filter((record) => record.event === "login throttled");
    assert.equal(throttled.length, 1, "one record for three refusals within 10 s");
    assert.equal(throttled[0].level, "warn");
    assert.equal(throttled[0].fields.failures, 4);
    assert.equal(throttled[0].fields.user, "admin");
  } finally {
    clock.uninstall();
  }
});

test("throttling: another address is not slowed by one that is throttled", async () => {
  // The server listens on both stacks: 127.0.0.1 and ::1 are two addresses.
  const logger = new LogRecorder();
  let server: Server;
  try {
    server = await startServer({ hostname: "::", auth: [["admin", "admin"]], logger }, add);
  } catch {
    return; // no IPv6 here: nothing to compare with
  }
  const clock = installFakeClock({ toFake: ["Date"] });
  try {
    for (let i = 0; i < 4; i++) { // 127.0.0.1: waits 0, 100, 200, 400; the next 800 ms
      const client = await WireClient.open(server.addr.port);
      assert.equal((await client.login("admin", "guess"))?.CODE, 501);
      client.close();
    }
    const throttled = await WireClient.open(server.addr.port);
    const pending = throttled.login("admin", "guess");
    let ipv6: Awaited<ReturnType<typeof AsyncRPC.connect>>;
    try {
      ipv6 = await within(
        AsyncRPC.connect(`tcp://admin:admin@[::1]:${server.addr.port}`),
        1000,
        "::1 logged in",
      );
    } catch (err) {
      if (err instanceof RpcUnavailableException) return throttled.close(); // no ::1 here
      throw err;
    }
    await assert.rejects(
      within(AsyncRPC.connect(`tcp://admin:nope@[::1]:${server.addr.port}`), 1000, "::1 refused"),
      LoginError,
    );
    assert.equal(await ipv6.add(1, 2), 3);
    await ipv6.close();
    assert.equal((await pending)?.CODE, 501, "127.0.0.1 still waits its turn");
    throttled.close();
    const refused = logger.records.filter((record) => record.event === "login refused");
    assert.deepEqual(
      refused.map((record) => [addressKey(String(record.fields.peer)), record.fields.delay]),
      [
        ["127.0.0.1", 0],
        ["127.0.0.1", 100],
        ["127.0.0.1", 200],
        ["127.0.0.1", 400],
        ["0:0:0:0::/64", 0],
        ["127.0.0.1", 800],
      ],
    );
  } finally {
    clock.uninstall();
    await server.close();
  }
});

test("throttling: the table of addresses is bounded, and an address quiet for a minute starts afresh", () => {
  const clock = installFakeClock({ toFake: ["Date"] });
  try {
    const throttle = new LoginThrottle({ maxAddresses: 3, logger: silentLogger });
    for (let i = 1; i <= 5; i++) throttle.failed(`192.0.2.${i}:4000`);
    assert.equal(throttle.size, 3);
    assert.equal(throttle.turn("192.0.2.1:4001", 10_000), 0, "the first to fail was forgotten");
    assert.equal(throttle.turn("192.0.2.5:4001", 10_000), 100);
    for (let i = 0; i < 20; i++) throttle.failed("192.0.2.5:4002");
    const capped = throttle.turn("192.0.2.5:4003", Infinity)!;
    clock.tick(capped);
    assert.equal(throttle.turn("192.0.2.5:4004", Infinity), MAX_DELAY, "the step stops growing");
    clock.tick(2 * MAX_DELAY + QUIET + 1); // a minute past its last reserved turn
    assert.equal(throttle.turn("192.0.2.5:4005", Infinity), 0, "quiet for a minute: afresh");
    assert.equal(throttle.size, 2);
  } finally {
    clock.uninstall();
  }
});

test("throttling: an IPv6 peer counts as its /64; an IPv4 one mapped into IPv6 as itself", () => {
  assert.equal(addressKey("2001:db8:0:1:aaaa::1:5000"), "2001:db8:0:1::/64");
  assert.equal(addressKey("2001:db8:0:1:bbbb::2:5001"), "2001:db8:0:1::/64");
  assert.equal(addressKey("[2001:0db8::1]:5000"), "2001:db8:0:0::/64");
  assert.equal(addressKey("::1:5000"), "0:0:0:0::/64");
  assert.equal(addressKey("fe80::1%eth0:5000"), "fe80:0:0:0::/64");
  assert.equal(addressKey("::ffff:192.0.2.7:5000"), "192.0.2.7");
  assert.equal(addressKey("192.0.2.7:5000"), "192.0.2.7");
  const throttle = new LoginThrottle();
  throttle.failed("2001:db8:0:1:aaaa::1:5000");
  assert.equal(throttle.turn("2001:db8:0:1:cccc::3:6000", 10_000)! > 0, true);
  assert.equal(throttle.turn("2001:db8:0:2::1:6000", 10_000), 0, "another /64");
});

test("limits: before login a message is at most 64 KiB: a big one is refused (505) before it is decoded", async () => {
  await using server = await startServer({});
  const wire = await WireClient.open(server.addr.port);
  try {
    // 1 MiB of empty maps: 64 MiB of objects, were it decoded.
    const bomb = new Uint8Array(1 + 4 + 1024 * 1024).fill(0x80);
    bomb.set([0xdd, 0x00, 0x10, 0x00, 0x00]);
    await wire.sendRaw(concat([bomb, TERM]));
    assert.equal((await wire.next())?.CODE, 505);
    assert.equal(await wire.next(), undefined);
  } finally {
    wire.close();
  }
  await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
  assert.equal(await rpc.call("echo_missing").catch((err) => err.code), 401, "others are served");
});

test("limits: before login a compressed message may decompress to 64 KiB at most (505)", async () => {
  await using server = await startServer({ compression: "zlib" });
  const message = encode({ MPRPC: "0.1", AUTH: { USERNAME: "x".repeat(100_000), PASSWORD: "" } });
  const compressed = new Uint8Array(
    await new Response(
      new Blob([message]).stream().pipeThrough(new CompressionStream("deflate")),
    ).arrayBuffer(),
  );
  assert.ok(compressed.length < 64 * 1024);
  const conn = await connectTcp(server.addr.port);
  try {
    await conn.write(concat([compressed, TERM]));
    const received: Uint8Array[] = [];
    const buffer = new Uint8Array(65536);
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      received.push(buffer.slice(0, n));
    }
    const bytes = concat(received);
    const reply = bytes.slice(0, indexOf(bytes, TERM));
    const inflated = new Blob([reply]).stream().pipeThrough(new DecompressionStream("deflate"));
    const answer = decode(new Uint8Array(await new Response(inflated).arrayBuffer()));
    assert.deepEqual(answer, { MPRPC: "0.1", CODE: 505 }, "then the connection closed");
  } finally {
    conn.close();
  }
});

test("limits: bytes sent ahead of the len32 switch that announce an oversize frame get 505, not a crash", async () => {
  await using server = await startServer({});
  const wire = await WireClient.open(server.addr.port);
  try {
    const auth = wire.frame({
      MPRPC: "0.1",
      AUTH: { USERNAME: "admin", PASSWORD: "admin", EXT: ["len32"] },
    });
    await wire.sendRaw(concat([auth, new Uint8Array([0xff, 0xff, 0xff, 0xff])]));
    assert.equal((await wire.next())?.CODE, 100);
    wire.length32 = true;
    assert.equal((await wire.next())?.CODE, 505);
    assert.equal(await wire.next(), undefined);
  } finally {
    wire.close();
  }
  await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
  assert.equal(await rpc.call("system.getresult", ["none"]).catch((err) => err.code), 400);
});

test("limits: a message that would decode to over 24 times maxMessageSize gets 505, not the heap", async () => {
  const limit = 2 * 1024 * 1024;
  await using server = await startServer({ maxMessageSize: limit }, (server) => {
    server.registerFunction(function size(items: unknown[]) {
      return items.length;
    });
  });
  const message = (items: number, item: number) => {
    const count = new Uint8Array([0xdd, 0, 0, 0, 0]);
    new DataView(count.buffer).setUint32(1, items);
    const head = encode({ MPRPC: "0.1", ID: "1", METHOD: "size", RETURN: true }).slice(1);
    // A map of five entries: the four above, then ARGS: [array of `items` copies of `item`].
    return concat([
      new Uint8Array([0x85]),
      head,
      encode("ARGS"),
      new Uint8Array([0x91]),
      count,
      new Uint8Array(items).fill(item),
    ]);
  };
  const wire = await WireClient.open(server.addr.port);
  try {
    await wire.login();
    // Small integers decode to about 17 times their size: served.
    await wire.sendRaw(concat([message(limit - 200, 0x01), TERM]));
    assert.equal(((await wire.next())?.MESSAGE as { RESULT: number }).RESULT, limit - 200);
    // Empty maps, about 64 times: refused before decoding, and the connection closed.
    await wire.sendRaw(concat([message(limit - 200, 0x80), TERM]));
    assert.equal((await wire.next())?.CODE, 505);
    assert.equal(await wire.next(), undefined);
  } finally {
    wire.close();
  }
});

test("maxInflightBytes: past it, over all connections, a call gets 503 and is not run; held calls go on, and their bytes are freed when they end", async () => {
  let entered = 0;
  const arrived = new Wakeup();
  let gate = deferred();
  await using server = await startServer(
    { maxMessageSize: 1024 * 1024, maxInflightBytes: 2 * 1024 * 1024 },
    (server) => {
      add(server);
      server.registerFunction(async function hold(data: Uint8Array) {
        entered++;
        arrived.wake();
        await gate.promise;
        return data.length;
      });
    },
  );
  const big = new Uint8Array(700 * 1024);
  await using first = await AsyncRPC.connect(urlOf(server));
  await using second = await AsyncRPC.connect(urlOf(server));
  const held = [first.hold(big), first.hold(big)];
  while (entered < 2) await arrived.wait();
  await assert.rejects(
    second.hold(big),
    (err) =>
      err instanceof RpcUnavailableException &&
      /would pass maxInflightBytes \(2097152\)/.test(err.message),
  );
  assert.equal(entered, 2, "the refused call never ran");
  assert.equal(await second.add(1, 2), 3, "a small call still fits");
  gate.resolve();
  assert.deepEqual(await Promise.all(held), [big.length, big.length]);
  gate = deferred();
  const again = [second.hold(big), second.hold(big)];
  while (entered < 4) await arrived.wait();
  gate.resolve();
  assert.deepEqual(await Promise.all(again), [big.length, big.length], "their bytes were freed");
});

test("maxInflightBytes: at least maxMessageSize, or Infinity", () => {
  assert.throws(
    () => new Server({ maxMessageSize: 1024, maxInflightBytes: 1000 }),
    /maxInflightBytes must be a whole number of bytes, at least maxMessageSize \(1024\)/,
  );
  new Server({ maxInflightBytes: Infinity });
});
