/**
 * The broker against hostile peers, over real sockets: maxConnections, the refusal of the default
 * credentials on a non-loopback address, and refused client logins throttled per address.
 */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { AsyncRPC, Broker, type BrokerOptions, RpcUnavailableException } from "../../mod.ts";
import { LogRecorder, silentLogger, WireClient, within } from "../helpers.ts";
import { installFakeClock } from "../test_deps.ts";

const SECRET = "join-secret";

async function startBroker(options: Partial<BrokerOptions> = {}): Promise<Broker> {
  const broker = new Broker({ port: 0, secret: SECRET, logger: silentLogger, ...options });
  await broker.listen();
  return broker;
}

// A raw 0.1 client's question to the broker: its answer's code.
async function ask(broker: Broker, password: string): Promise<unknown> {
  const wire = await WireClient.open(broker.addr.port);
  try {
    return (await wire.login("admin", password))?.CODE;
  } finally {
    wire.close();
  }
}

test("broker: maxConnections is passed to its server: past it 503 and close, open ones go on", async () => {
  const logger = new LogRecorder();
  await using broker = await startBroker({ maxConnections: 1, logger });
  await using direct = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${broker.addr.port}`);
  const refused = await WireClient.open(broker.addr.port);
  assert.deepEqual(await refused.next(), { MPRPC: "0.1", CODE: 503 });
  assert.equal(await refused.next(), undefined);
  refused.close();
  await assert.rejects(
    AsyncRPC.connect(`broker://admin:admin@127.0.0.1:${broker.addr.port}`),
    RpcUnavailableException,
  );
  assert.deepEqual(await direct.broker.members(), [], "the open session is unaffected");
  assert.equal((await logger.logged("connection refused")).maxConnections, 1);
});

test("broker: the default credentials are refused on a non-loopback hostname; explicit ones are not", () => {
  for (const hostname of ["0.0.0.0", "::", "10.1.2.3"]) {
    assert.throws(
      () => new Broker({ hostname, secret: SECRET }),
      (err) =>
        err instanceof TypeError && /^BrokerOptions: refusing to listen on/.test(err.message) &&
        /auth: \[\["user", "password"\]\]/.test(err.message),
    );
  }
  new Broker({ hostname: "0.0.0.0", secret: SECRET, auth: [["app", "s3cret"]] });
  new Broker({ hostname: "localhost", secret: SECRET });
  assert.throws(
    () => new Broker({ secret: SECRET, maxConnections: 0 }),
    /maxConnections must be a whole number/,
  );
});

test("broker: refused client logins are throttled per address, through the same delays as a server's", async () => {
  const clock = installFakeClock({ toFake: ["Date"] });
  const logger = new LogRecorder();
  try {
    await using broker = await startBroker({ logger });
    for (let i = 0; i < 3; i++) assert.equal(await ask(broker, `guess ${i}`), 51);
    const refused = logger.records.filter((record) => record.event === "login refused");
    assert.deepEqual(refused.map((record) => record.fields.delay), [0, 100, 200]);
    // The right credentials wait their turn too (400 ms), then get their answer: no server yet.
    const started = performance.now();
    assert.equal(await ask(broker, "admin"), 52);
    assert.ok(performance.now() - started >= 395);
  } finally {
    clock.uninstall();
  }
});

test("broker: a client whose turn is past the handshake timeout gets 51 at once, unchecked", async () => {
  const clock = installFakeClock({ toFake: ["Date"] });
  const logger = new LogRecorder();
  const clients: WireClient[] = [];
  try {
    await using broker = await startBroker({ logger });
    // Seven failures, each after the previous one's step has passed (only Date moves): the step
    // is now 5 s.
    for (let i = 0; i < 7; i++) {
      if (i > 0) clock.tick(5_000);
      assert.equal(await ask(broker, "guess"), 51);
    }
    clients.push(
      ...await Promise.all(Array.from({ length: 10 }, () => WireClient.open(broker.addr.port))),
    );
    // Two get turns 5 and 10 s off (within the 10 s handshake timeout); the others are refused.
    const answers = await Promise.all(
      clients.map((client) => within(client.login(), 1000, "answered").catch(() => "waiting")),
    );
    assert.equal(answers.filter((answer) => answer === "waiting").length, 2);
    for (const answer of answers.filter((answer) => answer !== "waiting")) {
      assert.deepEqual(answer, {
        MPRPC: "0.1",
        CODE: 51,
        MESSAGE: "too many failed logins from this address: try again later",
      });
    }
    const throttled = logger.records.filter((record) => record.event === "login throttled");
    assert.equal(throttled.length, 1);
    assert.equal(throttled[0].fields.failures, 7);
  } finally {
    for (const client of clients) client.close();
    clock.uninstall();
  }
});
