/** `AsyncRPC.roundTrip()`: the protocol's heartbeat as a round-trip measurement. */
import assert from "node:assert/strict";
import { listenTcp, test } from "../test_platform.deno.ts";
import { AsyncRPC, ConnectionLostError, TimeoutException } from "../../mod.ts";
import { startServer, urlOf, WireClient } from "../helpers.ts";

test("ping: many pings in flight each resolve to a round trip", async () => {
  await using server = await startServer();
  await using rpc = await AsyncRPC.connect(urlOf(server));
  const times = await Promise.all(Array.from({ length: 20 }, () => rpc.roundTrip()));
  for (const ms of times) assert.ok(ms >= 0 && Number.isFinite(ms), String(ms));
});

// Reads `count` messages from `peer` (the test's pings are all the client sends).
async function skip(peer: WireClient, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!await peer.next()) throw new Error("the client closed the connection");
  }
}

test("ping: the nth pong answers the nth ping; past the timeout TimeoutException; then the lost connection", async () => {
  const listener = await listenTcp();
  const accepted = listener.accept().then(async (conn) => {
    const peer = WireClient.over(conn);
    await skip(peer, 1); // AUTH
    await peer.send({ MPRPC: "0.1", CODE: 100, DEBUG: false, COMPRESER: null, TIMEOUT: 0 });
    return peer;
  });
  try {
    const url = `tcp://admin:admin@127.0.0.1:${listener.port}`;
    await using rpc = await AsyncRPC.connect(url, { timeout: 0.5, reconnect: false });
    const peer = await accepted;
    const pong = { MPRPC: "0.1", CODE: 101, HEARTBEAT: "pong" };
    const first = rpc.roundTrip();
    let secondDone = false;
    const second = rpc.roundTrip().finally(() => secondDone = true);
    await skip(peer, 2);
    await peer.send(pong);
    await first;
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(secondDone, false, "one pong answered one ping");
    await peer.send(pong);
    await second;
    await assert.rejects(rpc.roundTrip(), TimeoutException);
    const waiting = rpc.roundTrip();
    peer.close();
    await assert.rejects(waiting, ConnectionLostError);
  } finally {
    listener.close();
  }
});
