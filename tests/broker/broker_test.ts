/**
 * The broker in one process, over real sockets: the 0.1 exchange, membership, picking, bad input.
 * Member processes, kill -9 and restarts are in processes_test.ts.
 */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import {
  AsyncRPC,
  Broker,
  type BrokerOptions,
  callContext,
  RequestError,
  RestrictAccessError,
  Server,
  type ServerOptions,
} from "../../mod.ts";
import {
  collect,
  deferred,
  LogRecorder,
  silentLogger,
  startServer,
  WireClient,
  within,
} from "../helpers.ts";
import { installFakeClock } from "../test_deps.ts";

const SECRET = "join-secret";

async function startBroker(options: Partial<BrokerOptions> = {}): Promise<Broker> {
  const broker = new Broker({ port: 0, secret: SECRET, logger: silentLogger, ...options });
  await broker.listen();
  return broker;
}

/** A server that joined `broker`; `whoami()` answers its port. */
async function startMember(broker: Broker, options: ServerOptions = {}): Promise<Server> {
  const server = await startServer({
    broker: { url: `tcp://127.0.0.1:${broker.addr.port}`, secret: SECRET },
    ...options,
  }, (server) => {
    server.registerFunction(function whoami() {
      return server.addr.port;
    });
  });
  await server.joined();
  return server;
}

function brokerUrl(broker: Broker, credentials = "admin:admin"): string {
  return `broker://${credentials}@127.0.0.1:${broker.addr.port}`;
}

async function ask(broker: Broker, username: string | null, password: string | null) {
  const wire = await WireClient.open(broker.addr.port);
  try {
    const answer = await wire.login(username, password);
    return { answer, closed: await wire.next() === undefined };
  } finally {
    wire.close();
  }
}

test("broker: a raw 0.1 AUTH gets 50 with a member's URL and its own credentials, then the connection closes", async () => {
  await using broker = await startBroker();
  await using member = await startMember(broker);
  const { answer, closed } = await ask(broker, "admin", "admin");
  assert.deepEqual(answer, {
    MPRPC: "0.1",
    CODE: 50,
    URL: `tcp://admin:admin@127.0.0.1:${member.addr.port}`,
  });
  assert.ok(closed, "the broker's part is done after the answer");
  await using rpc = await AsyncRPC.connect(String(answer!.URL));
  assert.equal(await rpc.whoami(), member.addr.port);
});

test("broker: bad credentials get 51, no member gets 52, and the broker keeps serving", async () => {
  const log = new LogRecorder();
  await using broker = await startBroker({ logger: log });
  const none = await ask(broker, "admin", "admin");
  assert.equal(none.answer?.CODE, 52);
  assert.match(String(none.answer?.MESSAGE), /no server has joined/);
  await using member = await startMember(broker);
  const refused = await ask(broker, "admin", "wrong");
  assert.equal(refused.answer?.CODE, 51);
  assert.ok(refused.closed);
  assert.deepEqual((await log.logged("login refused")).user, "admin");
  await assert.rejects(AsyncRPC.connect(brokerUrl(broker, "admin:wrong")), /refused/);
  const ok = await ask(broker, "admin", "admin");
  assert.equal(ok.answer?.CODE, 50);
  assert.ok(String(ok.answer?.URL).endsWith(`:${member.addr.port}`));
});

test("broker: a client speaking calls without AUTH, or a flood of AUTH, gets clear answers; the broker keeps serving", async () => {
  await using broker = await startBroker();
  await using _member = await startMember(broker);
  const rude = await WireClient.open(broker.addr.port);
  await rude.call("1", "system.listMethods");
  assert.deepEqual(await rude.next(), { MPRPC: "0.1", CODE: 501 });
  assert.equal(await rude.next(), undefined);
  rude.close();
  // Many AUTH on one connection: the first is answered, the rest are not read.
  const greedy = await WireClient.open(broker.addr.port);
  const auth = greedy.frame({ MPRPC: "0.1", AUTH: { USERNAME: "admin", PASSWORD: "admin" } });
  await greedy.sendRaw(new Uint8Array(Array.from({ length: 100 }, () => [...auth]).flat()));
  assert.equal((await greedy.next())?.CODE, 50);
  assert.equal(await greedy.next(), undefined);
  greedy.close();
  // Many connections at once: every one is answered. (Bad credentials among them would make the
  // rest from this address wait their turn, one by one: see limits_test.ts.)
  const answers = await Promise.all(
    Array.from({ length: 200 }, () => ask(broker, "admin", "admin")),
  );
  assert.deepEqual(answers.map(({ answer }) => answer?.CODE), Array(200).fill(50));
  await using rpc = await AsyncRPC.connect(brokerUrl(broker));
  assert.equal(typeof await rpc.whoami(), "number");
});

test("broker: clients arriving together are spread across the members", async () => {
  await using broker = await startBroker();
  const members = [await startMember(broker), await startMember(broker), await startMember(broker)];
  const clients = await Promise.all(
    Array.from({ length: 30 }, () => AsyncRPC.connect(brokerUrl(broker))),
  );
  try {
    const ports = await Promise.all(clients.map((rpc) => rpc.whoami()));
    for (const member of members) {
      const count = ports.filter((port) => port === member.addr.port).length;
      assert.ok(count >= 5, `member ${member.addr.port} got ${count} of 30 clients`);
    }
  } finally {
    await Promise.all(clients.map((rpc) => rpc.close()));
    await Promise.all(members.map((member) => member.close()));
  }
});

test("broker: a client is sent only to a member that accepts its credentials", async () => {
  await using broker = await startBroker({ auth: [["admin", "admin"], ["ops", "s3cret:@/"]] });
  await using _admins = await startMember(broker);
  await using ops = await startMember(broker, { auth: [["ops", "s3cret:@/"]] });
  for (let i = 0; i < 5; i++) {
    await using rpc = await AsyncRPC.connect(brokerUrl(broker, "ops:s3cret%3A%40%2F"));
    assert.equal(await rpc.whoami(), ops.addr.port);
  }
});

test("broker: a wrong secret is refused and logged on both sides; the member is not listed", async () => {
  const brokerLog = new LogRecorder();
  const serverLog = new LogRecorder();
  await using broker = await startBroker({ logger: brokerLog });
  await using server = await startServer({
    broker: { url: `tcp://127.0.0.1:${broker.addr.port}`, secret: "wrong" },
    logger: serverLog,
  });
  assert.equal((await brokerLog.logged("login refused")).user, "mprpc.member");
  assert.match(String((await serverLog.logged("cannot join broker")).error), /refused/);
  assert.deepEqual(broker.members, []);
  await server.close();
});

test("broker: only members may join and report; a garbage report gets 400", async () => {
  await using broker = await startBroker();
  await using admin = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${broker.addr.port}`);
  await assert.rejects(admin.call("broker.join", ["tcp://127.0.0.1:1", []]), RestrictAccessError);
  await assert.rejects(admin.call("broker.report", ["x", {}]), RestrictAccessError);
  await using member = await AsyncRPC.connect(
    `tcp://mprpc.member:${SECRET}@127.0.0.1:${broker.addr.port}`,
  );
  await assert.rejects(member.call("broker.join", ["not a url", []]), RequestError);
  await assert.rejects(member.call("broker.join", ["tcp://127.0.0.1:1", ["nothex"]]), RequestError);
  const stream: AsyncIterable<{ id: string }> = await member.call("broker.join", [
    "tcp://127.0.0.1:1",
    [],
  ]);
  const joined = stream[Symbol.asyncIterator]();
  const { id } = (await joined.next()).value!;
  await assert.rejects(member.call("broker.report", [id, { connections: -1 }]), RequestError);
  await assert.rejects(member.call("broker.report", [id, "garbage"]), RequestError);
  await assert.rejects(
    member.call("broker.report", ["no-such-id", { connections: 0, calls: 0, queued: 0 }]),
    /join again/,
  );
  await member.call("broker.report", [id, { connections: 2, calls: 7, queued: 1 }]);
  const [listed] = await admin.call("broker.members");
  assert.deepEqual(listed.load, { connections: 2, calls: 7, queued: 1 });
  assert.equal(listed.url, "tcp://127.0.0.1:1");
  assert.deepEqual(
    (await admin.system.listMethods()).filter((name: string) => name.startsWith("broker.")),
    ["broker.join", "broker.members", "broker.report"],
  );
  await joined.return!();
});

test("broker: a member that misses three reports is dropped and its join stream ends (fake time)", async () => {
  const clock = installFakeClock({ toFake: ["setInterval", "clearInterval", "Date"] });
  try {
    const log = new LogRecorder();
    await using broker = await startBroker({ logger: log, reportInterval: 1 });
    await using member = await AsyncRPC.connect(
      `tcp://mprpc.member:${SECRET}@127.0.0.1:${broker.addr.port}`,
    );
    const stream: AsyncIterable<unknown> = await member.call("broker.join", [
      "tcp://127.0.0.1:1",
      [],
    ]);
    const items = collect(stream);
    await log.logged("member joined");
    clock.tick(3_000);
    assert.equal(broker.members.length, 1, "three intervals of silence are tolerated");
    clock.tick(1_000); // the next sweep
    assert.deepEqual(broker.members, []);
    assert.equal((await log.logged("member left")).reason, "missed its load reports");
    assert.equal((await items).length, 1, "the stream ends after its one item: join again");
  } finally {
    clock.uninstall();
  }
});

test("broker: a closing member leaves first, while its running calls finish", async () => {
  const log = new LogRecorder();
  await using broker = await startBroker({ logger: log });
  const gate = deferred<void>();
  const started = deferred<void>();
  const leaving = await startMember(broker);
  leaving.registerFunction(function slow() {
    started.resolve();
    return gate.promise.then(() => "finished");
  });
  await using staying = await startMember(broker);
  await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${leaving.addr.port}`);
  const running = rpc.slow();
  await started.promise;
  const left = log.next("member left");
  const closing = leaving.close();
  assert.equal((await left).url, `tcp://127.0.0.1:${leaving.addr.port}`);
  assert.deepEqual(broker.members.map((m) => m.url), [`tcp://127.0.0.1:${staying.addr.port}`]);
  await using fresh = await AsyncRPC.connect(brokerUrl(broker));
  assert.equal(await fresh.whoami(), staying.addr.port);
  gate.resolve();
  assert.equal(await running, "finished");
  await closing;
});

test("broker: a restarted broker gets its members back", async () => {
  const first = await startBroker();
  const port = first.addr.port;
  await using member = await startMember(first);
  await first.close();
  const log = new LogRecorder();
  await using second = new Broker({ port, secret: SECRET, logger: log });
  await second.listen();
  assert.equal((await log.logged("member joined")).url, `tcp://127.0.0.1:${member.addr.port}`);
  await using rpc = await AsyncRPC.connect(brokerUrl(second));
  assert.equal(await rpc.whoami(), member.addr.port);
});

test("broker: members join every broker; a client tries the brokers in turn", async () => {
  const a = await startBroker();
  await using b = await startBroker();
  await using member = await startServer({
    broker: {
      url: [`tcp://127.0.0.1:${a.addr.port}`, `tcp://127.0.0.1:${b.addr.port}`],
      secret: SECRET,
    },
  }, (server) => server.registerFunction(() => server.addr.port, { name: "whoami" }));
  await member.joined();
  assert.equal(a.members.length, 1);
  assert.equal(b.members.length, 1);
  const url = `broker://admin:admin@127.0.0.1:${a.addr.port},127.0.0.1:${b.addr.port}`;
  await using connected = await AsyncRPC.connect(url);
  await a.close();
  assert.equal(await connected.whoami(), member.addr.port, "a broker is never on the call path");
  await using fresh = await AsyncRPC.connect(url);
  assert.equal(await fresh.whoami(), member.addr.port);
  await assert.rejects(
    AsyncRPC.connect(`broker://admin:admin@127.0.0.1:${a.addr.port}`),
    /no broker named a server .*could not connect/,
  );
});

test("broker: options are checked", () => {
  assert.throws(() => new Broker({ secret: "" }), /secret must be a non-empty string/);
  assert.throws(
    () => new Broker({ secret: "s", auth: [["mprpc.member", "x"]] }),
    /the user members join as/,
  );
  assert.throws(
    () => new Broker({ secret: "s", port: 0, colour: 1 } as never),
    /unknown BrokerOptions option 'colour'/,
  );
  assert.throws(
    () =>
      new Server({
        hostname: "0.0.0.0",
        auth: [["app", "s3cret"]], // without it, the default credentials are refused first
        broker: { url: "tcp://127.0.0.1:7000", secret: "s" },
      }),
    /broker.advertise/,
  );
  assert.throws(
    () => new Server({ broker: { url: "http://x", secret: "s" } }),
    /not an address/,
  );
  assert.throws(
    () => new Server({ broker: { url: "tcp://127.0.0.1:7000", secret: "" } }),
    /broker.secret must be a non-empty string/,
  );
});

test("broker: a member reports soon after its connections change, not only at the interval's end", async () => {
  // A stand-in broker, to see each report as it comes: its interval (20 s) is longer than the
  // test may take, so only an early report can answer.
  const reported = deferred<{ connections: number }>();
  await using fake = await startServer({ auth: [["mprpc.member", SECRET]] }, (server) => {
    server.registerFunction(async function* join(_url: string, _tags: string[]) {
      yield { id: "m", interval: 20 };
      const { signal } = callContext();
      await new Promise((resolve) => signal.addEventListener("abort", resolve)); // until it leaves
    }, { name: "broker.join" });
    server.registerFunction(function report(_id: string, load: { connections: number }) {
      if (load.connections === 1) reported.resolve(load);
      return null;
    }, { name: "broker.report" });
  });
  await using member = await startServer({
    broker: { url: `tcp://127.0.0.1:${fake.addr.port}`, secret: SECRET },
  });
  await within(member.joined(), 10_000, "the member did not join");
  await using _client = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${member.addr.port}`);
  assert.equal((await within(reported.promise, 10_000, "no early report")).connections, 1);
});

test("broker: one membership per connection; joining again from the same URL replaces the old one", async () => {
  const log = new LogRecorder();
  await using broker = await startBroker({ logger: log });
  const asMember = `tcp://mprpc.member:${SECRET}@127.0.0.1:${broker.addr.port}`;
  await using first = await AsyncRPC.connect(asMember);
  const join = async (rpc: AsyncRPC, url: string) => {
    const stream: AsyncIterable<unknown> = await rpc.call("broker.join", [url, []]);
    return stream[Symbol.asyncIterator]();
  };
  const a = await join(first, "tcp://127.0.0.1:1");
  await a.next();
  const again = await join(first, "tcp://127.0.0.1:2");
  await assert.rejects(again.next(), /a member already/);
  await using second = await AsyncRPC.connect(asMember);
  const b = await join(second, "tcp://127.0.0.1:1");
  const { id } = (await b.next()).value as { id: string };
  assert.equal((await log.logged("member left")).reason, "it joined again");
  assert.deepEqual((await a.next()).done, true, "the old membership's stream ended");
  assert.equal(broker.members.length, 1);
  await assert.rejects(
    first.call("broker.report", [id, { connections: 0, calls: 0, queued: 0 }]),
    /join again/,
    "one member cannot report for another",
  );
});

test("broker: a server whose broker is down still closes at once; joined() then says it never joined", async () => {
  const broker = await startBroker();
  const url = `tcp://127.0.0.1:${broker.addr.port}`;
  await broker.close();
  const server = await startServer({ broker: { url, secret: SECRET } });
  const joined = server.joined();
  await server.close();
  assert.equal(await joined, false);
});
