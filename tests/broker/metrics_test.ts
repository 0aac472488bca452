/**
 * broker.metrics() and its metricsPort: members and their reported load, labelled by address,
 * and how clients' requests for a server ended.
 */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { AsyncRPC, Broker, type Server } from "../../mod.ts";
import { silentLogger, startServer, WireClient } from "../helpers.ts";
import { checkHistograms, parseExposition, valueOf } from "../exposition.ts";
import { EXPOSITION_CONTENT_TYPE } from "../../src/metrics/exposition.ts";

const SECRET = "join-secret";

async function startBroker(): Promise<Broker> {
  const broker = new Broker({ port: 0, secret: SECRET, logger: silentLogger, metricsPort: 0 });
  await broker.listen();
  return broker;
}

function metricsOf(broker: Broker) {
  const families = parseExposition(broker.metrics());
  checkHistograms(families);
  return families;
}

test("broker metrics: each member's reported load labelled by its address, and the members count", async () => {
  await using broker = await startBroker();
  await using member = await AsyncRPC.connect(
    `tcp://mprpc.member:${SECRET}@127.0.0.1:${broker.addr.port}`,
  );
  const stream: AsyncIterable<{ id: string }> = await member.call("broker.join", [
    "tcp://127.0.0.1:1",
    [],
  ]);
  const joined = stream[Symbol.asyncIterator]();
  const { id } = (await joined.next()).value!;
  await member.call("broker.report", [id, { connections: 2, calls: 7, queued: 1 }]);

  const metrics = metricsOf(broker);
  const labels = { member: "tcp://127.0.0.1:1" };
  assert.equal(valueOf(metrics, "mprpc_broker_members"), 1);
  assert.equal(valueOf(metrics, "mprpc_broker_member_connections", labels), 2);
  assert.equal(valueOf(metrics, "mprpc_broker_member_calls", labels), 7);
  assert.equal(valueOf(metrics, "mprpc_broker_member_queued_calls", labels), 1);
  assert.ok(valueOf(metrics, "mprpc_broker_member_report_age_seconds", labels) >= 0);
  assert.equal(metrics.get("mprpc_broker_member_calls")!.type, "gauge");
  // The broker's own server: the member's connection and its calls.
  assert.equal(valueOf(metrics, "mprpc_connections"), 1);
  assert.equal(valueOf(metrics, "mprpc_calls_total", { method: "broker.report", code: "200" }), 1);
  await joined.return!();
});

test("broker metrics: picks counted by result (sent, refused, no server), also over HTTP", async () => {
  await using broker = await startBroker();
  const ask = async (password: string) => {
    const wire = await WireClient.open(broker.addr.port);
    try {
      return (await wire.login("admin", password))?.CODE;
    } finally {
      wire.close();
    }
  };
  assert.equal(await ask("admin"), 52, "no member yet");
  assert.equal(await ask("wrong"), 51);
  const server: Server = await startServer({
    broker: { url: `tcp://127.0.0.1:${broker.addr.port}`, secret: SECRET },
  });
  try {
    await server.joined();
    assert.equal(await ask("admin"), 50);
    assert.equal(await ask("admin"), 50);

    const scraped = await fetch(`http://127.0.0.1:${broker.metricsAddr!.port}/metrics`);
    assert.equal(scraped.headers.get("content-type"), EXPOSITION_CONTENT_TYPE);
    const metrics = parseExposition(await scraped.text());
    assert.equal(valueOf(metrics, "mprpc_broker_picks_total", { result: "sent" }), 2);
    assert.equal(valueOf(metrics, "mprpc_broker_picks_total", { result: "refused" }), 1);
    assert.equal(valueOf(metrics, "mprpc_broker_picks_total", { result: "no_server" }), 1);
    assert.equal(valueOf(metrics, "mprpc_broker_members"), 1);
    const member = { member: `tcp://127.0.0.1:${server.addr.port}` };
    assert.ok(valueOf(metrics, "mprpc_broker_member_connections", member) >= 0);
  } finally {
    await server.close();
  }
});
