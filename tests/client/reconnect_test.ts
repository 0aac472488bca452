/**
 * The client's automatic reconnect: calls in flight on a lost connection fail at once, calls made
 * while it is down wait for the next one (bounded), and events tell the application.
 */
import assert from "node:assert/strict";
import { listenTcp, test } from "../test_platform.deno.ts";
import { encode } from "../test_deps.ts";
import {
  AsyncRPC,
  Broker,
  ConnectionLostError,
  type DisconnectDetail,
  type ReconnectDetail,
  RpcUnavailableException,
  type Server,
} from "../../mod.ts";
import { concat, deferred, silentLogger, startServer, TERM, urlOf, within } from "../helpers.ts";

const FAST = { reconnect: { minDelay: 0.01, maxDelay: 0.05 } };

function nextEvent<T>(rpc: AsyncRPC, type: string): Promise<T> {
  return new Promise((resolve) =>
    rpc.addEventListener(type, (event) => resolve((event as CustomEvent<T>).detail), { once: true })
  );
}

const api = (gate: Promise<void>, started: () => void) => (server: Server) => {
  server.registerFunction(function whoami() {
    return server.addr.port;
  });
  server.registerFunction(function hang() {
    started();
    return gate;
  });
};

test("reconnect: a call in flight fails at once with ConnectionLostError; the client comes back through the broker to another member", async () => {
  await using broker = new Broker({ port: 0, secret: "s", logger: silentLogger });
  await broker.listen();
  const member = { broker: { url: `tcp://127.0.0.1:${broker.addr.port}`, secret: "s" } };
  const gate = deferred<void>();
  const started = deferred<void>();
  const a = await startServer({ ...member, gracePeriod: 0 }, api(gate.promise, started.resolve));
  const b = await startServer({ ...member, gracePeriod: 0 }, api(gate.promise, started.resolve));
  await Promise.all([a.joined(), b.joined()]);
  await using rpc = await AsyncRPC.connect(
    `broker://admin:admin@127.0.0.1:${broker.addr.port}`,
    FAST,
  );
  const first = await rpc.whoami();
  const [lost, other] = first === a.addr.port ? [a, b] : [b, a];
  const inFlight = rpc.hang();
  await started.promise;
  const disconnected = nextEvent<DisconnectDetail>(rpc, "disconnect");
  const reconnected = nextEvent<ReconnectDetail>(rpc, "reconnect");
  // Watched before the close, which fails it.
  const failed = assert.rejects(inFlight, (err) => {
    assert.ok(err instanceof ConnectionLostError);
    assert.match(err.message, /may or may not have run/);
    return true;
  });
  await lost.close(); // grace 0: the running call is cut off with its connection
  await failed;
  const { error, reconnecting } = await disconnected;
  assert.ok(error instanceof ConnectionLostError);
  assert.equal(reconnecting, true);
  const waiting = rpc.whoami(); // made while down: waits for the new connection
  assert.equal((await reconnected).remoteAddress, `127.0.0.1:${other.addr.port}`);
  assert.equal(await waiting, other.addr.port);
  gate.resolve();
  await other.close();
});

test("reconnect: a tcp:// client comes back to the same server once it listens again", async () => {
  const first = await startServer({}, api(Promise.resolve(), () => {}));
  const port = first.addr.port;
  await using rpc = await AsyncRPC.connect(urlOf(first), FAST);
  const disconnected = nextEvent<DisconnectDetail>(rpc, "disconnect");
  await first.close();
  await disconnected;
  const waiting = rpc.whoami();
  const delayed = rpc.delay("whoami"); // RETURN: false waits for the connection too
  await using _second = await startServer({ port }, api(Promise.resolve(), () => {}));
  assert.equal(await waiting, port);
  assert.equal(await rpc.system.getresult(await delayed), port);
  assert.equal(rpc.connected, true);
});

test("reconnect: a call made while the server stays away fails after its timeout with the last attempt's error", async () => {
  const server = await startServer({}, api(Promise.resolve(), () => {}));
  await using rpc = await AsyncRPC.connect(urlOf(server), FAST);
  const disconnected = nextEvent<DisconnectDetail>(rpc, "disconnect");
  await server.close();
  await disconnected;
  await assert.rejects(rpc.with({ timeout: 0.2 }).whoami(), (err) => {
    assert.ok(err instanceof RpcUnavailableException);
    assert.match(err.message, /not back after 0.2 s; the last attempt: could not connect/);
    return true;
  });
});

test("reconnect: close() stops reconnecting and fails the calls waiting for it", async () => {
  const server = await startServer({}, api(Promise.resolve(), () => {}));
  const rpc = await AsyncRPC.connect(urlOf(server), FAST);
  const disconnected = nextEvent<DisconnectDetail>(rpc, "disconnect");
  await server.close();
  await disconnected;
  const waiting = rpc.whoami();
  await rpc.close();
  await assert.rejects(waiting, /the client is closed/);
  await assert.rejects(rpc.whoami(), /the client is closed/);
});

test("reconnect: with reconnect: false a lost connection stays lost, and says why", async () => {
  const server = await startServer({}, api(Promise.resolve(), () => {}));
  await using rpc = await AsyncRPC.connect(urlOf(server), { reconnect: false });
  const disconnected = nextEvent<DisconnectDetail>(rpc, "disconnect");
  await server.close();
  assert.equal((await disconnected).reconnecting, false);
  await assert.rejects(rpc.whoami(), ConnectionLostError);
});

test("reconnect: a server that stops answering heartbeats counts as lost: its calls fail, none hangs", async () => {
  // A server that completes the handshake and then says nothing, as one whose machine vanished.
  const listener = await listenTcp();
  const accepted = listener.accept().then(async (conn) => {
    await conn.read(new Uint8Array(1024)); // the AUTH
    const reply = { MPRPC: "0.1", CODE: 100, VERSION: null, DESC: null, DEBUG: false, TIMEOUT: 0 };
    await conn.write(concat([encode(reply), TERM]));
    return conn;
  });
  try {
    const url = `tcp://admin:admin@127.0.0.1:${listener.port}`;
    await using rpc = await AsyncRPC.connect(url, { heartbeat: 0.05, reconnect: false });
    const call = rpc.whoami();
    await assert.rejects(within(call, 5_000, "the call hung"), (err) => {
      assert.ok(err instanceof ConnectionLostError);
      assert.match(err.message, /no answer from 127.0.0.1:\d+ to two heartbeats/);
      return true;
    });
  } finally {
    (await accepted).close();
    listener.close();
  }
});

test("reconnect: options are checked", () => {
  assert.throws(
    () => new AsyncRPC("tcp://a:b@127.0.0.1:1", { reconnect: { maxDelay: 1, tries: 3 } as never }),
    /unknown ReconnectOptions option 'tries'/,
  );
  for (const reconnect of [{ minDelay: 0 }, { minDelay: 2, maxDelay: 1 }, { maxDelay: NaN }]) {
    assert.throws(() => new AsyncRPC("tcp://a:b@127.0.0.1:1", { reconnect }), /0 < minDelay/);
  }
  assert.throws(
    () => new AsyncRPC("tcp://a:b@127.0.0.1:1", { reconnect: "yes" as never }),
    /reconnect must be true, false or/,
  );
  assert.throws(() => new AsyncRPC("broker://a:b@h1:1,h2"), /is not an address like/);
  assert.throws(() => new AsyncRPC("tcp://a:b@h1:1,h2:2"), /a tcp:\/\/ address names one server/);
});
