/**
 * The broker with real processes: member servers and brokers each in their own process, killed
 * with SIGKILL or stopped with SIGTERM while clients call them.
 */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import {
  AsyncRPC,
  type AsyncRPCClient,
  Broker,
  MprpcError,
  type ReconnectDetail,
} from "../../mod.ts";
import { LogRecorder, ScriptProcess, within } from "../helpers.ts";

const SECRET = "join-secret";
const MEMBER = new URL("../fixtures/member_server.ts", import.meta.url);
const BROKER = new URL("../fixtures/broker_process.ts", import.meta.url);
const FAST = { reconnect: { minDelay: 0.05, maxDelay: 0.5 } };

function member(brokers: number[]): Promise<ScriptProcess> {
  const urls = brokers.map((port) => `tcp://127.0.0.1:${port}`).join(",");
  return ScriptProcess.start(MEMBER, { BROKERS: urls, SECRET });
}

function brokerUrl(...ports: number[]): string {
  return `broker://admin:admin@${ports.map((port) => `127.0.0.1:${port}`).join(",")}`;
}

test("broker processes: clients spread over three members; kill -9 of one under load: every call settles, its clients serve again through the others", async () => {
  await using broker = new Broker({ port: 0, secret: SECRET, logger: new LogRecorder() });
  await broker.listen();
  await using a = await member([broker.addr.port]);
  await using b = await member([broker.addr.port]);
  await using c = await member([broker.addr.port]);
  const clients: AsyncRPCClient[] = [];
  try {
    for (let i = 0; i < 12; i++) {
      clients.push(await AsyncRPC.connect(brokerUrl(broker.addr.port), FAST));
    }
    const homes = await Promise.all(clients.map((rpc) => rpc.whoami() as Promise<number>));
    for (const proc of [a, b, c]) {
      assert.ok(homes.filter((port) => port === proc.port).length >= 2, `spread: ${homes}`);
    }
    const victims = clients.filter((_, i) => homes[i] === b.port);
    const back = victims.map((rpc) =>
      new Promise<ReconnectDetail>((resolve) =>
        rpc.addEventListener("reconnect", (e) => resolve((e as CustomEvent).detail), { once: true })
      )
    );
    let running = true;
    const outcomes = { ok: 0, failed: 0 };
    const load = clients.map(async (rpc) => {
      while (running) {
        try {
          await rpc.with({ timeout: 2 }).slow(5);
          outcomes.ok++;
        } catch (err) {
          assert.ok(err instanceof MprpcError, `a clear error, not ${err}`);
          outcomes.failed++;
        }
      }
    });
    await b.kill("SIGKILL");
    const moved = await within(Promise.all(back), 10_000, "the affected clients were not back");
    for (const { remoteAddress } of moved) {
      assert.ok([a.port, c.port].some((port) => remoteAddress === `127.0.0.1:${port}`));
    }
    running = false;
    await within(Promise.all(load), 5_000, "a call did not settle");
    assert.ok(outcomes.ok > 0);
    const now = await Promise.all(clients.map((rpc) => rpc.whoami() as Promise<number>));
    assert.ok(now.every((port) => port === a.port || port === c.port), `after: ${now}`);
  } finally {
    await Promise.all(clients.map((rpc) => rpc.close()));
  }
});

test("broker processes: SIGTERM on a member: it leaves at once, finishes its running call, and gets no new clients", async () => {
  const log = new LogRecorder();
  await using broker = new Broker({ port: 0, secret: SECRET, logger: log });
  await broker.listen();
  await using leaving = await member([broker.addr.port]);
  await using staying = await member([broker.addr.port]);
  await using direct = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${leaving.port}`, {
    reconnect: false,
  });
  const running = direct.slow(1_000);
  await direct.whoami(); // the slow call has reached the server before the signal
  const left = log.next("member left");
  const exited = leaving.kill("SIGTERM");
  assert.equal((await within(left, 5_000, "no leave")).url, `tcp://127.0.0.1:${leaving.port}`);
  for (let i = 0; i < 5; i++) {
    await using rpc = await AsyncRPC.connect(brokerUrl(broker.addr.port));
    assert.equal(await rpc.whoami(), staying.port);
  }
  assert.equal(await running, 1_000, "drained, not cut off");
  assert.equal(await exited, 0);
});

test("broker processes: two brokers, one killed: nothing changes for clients; restarted, it gets its members back", async () => {
  await using b1 = await ScriptProcess.start(BROKER, { SECRET });
  await using b2 = await ScriptProcess.start(BROKER, { SECRET });
  await using m = await member([b1.port, b2.port]);
  const url = brokerUrl(b1.port, b2.port);
  await using connected = await AsyncRPC.connect(url, FAST);
  assert.equal(await connected.whoami(), m.port);
  await b1.kill("SIGKILL");
  assert.equal(await connected.whoami(), m.port, "a broker is never on the call path");
  await using fresh = await AsyncRPC.connect(url);
  assert.equal(await fresh.whoami(), m.port, "the second broker answers");
  await using again = await ScriptProcess.start(BROKER, { SECRET, PORT: String(b1.port) });
  const joined = await within(again.event("member joined"), 10_000, "the member did not re-join");
  assert.equal(joined.url, `tcp://127.0.0.1:${m.port}`);
  await using viaRestarted = await AsyncRPC.connect(brokerUrl(b1.port));
  assert.equal(await viaRestarted.whoami(), m.port);
});
