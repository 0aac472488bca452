/** `AsyncRPC.ping()`: the protocol's heartbeat as a round-trip measurement. */
import assert from "node:assert/strict";
import { listenTcp, test } from "../test_platform.deno.ts";
import { AsyncRPC, ConnectionLostError, TimeoutException } from "../../mod.ts";
import { startServer, TERM, urlOf } from "../helpers.ts";
import { encode } from "../test_deps.ts";

test("ping: many pings in flight, heartbeats among them, each resolve to a round trip", async () => {
  await using server = await startServer();
  // A heartbeat every millisecond: its pongs come between those of the pings.
  await using rpc = await AsyncRPC.connect(urlOf(server), { heartbeat: 0.001 });
  const times = await Promise.all(Array.from({ length: 20 }, () => rpc.ping()));
  for (const ms of times) assert.ok(ms >= 0 && Number.isFinite(ms), String(ms));
});

test("ping: a server that never pongs: TimeoutException past the timeout, then the lost connection", async () => {
  const listener = await listenTcp();
  const accepted = listener.accept().then(async (conn) => {
    await conn.read(new Uint8Array(65536)); // AUTH
    const reply = encode({ MPRPC: "0.1", CODE: 100, DEBUG: false, COMPRESER: null, TIMEOUT: 0 });
    await conn.write(new Uint8Array([...reply, ...TERM]));
    return conn;
  });
  try {
    const url = `tcp://admin:admin@127.0.0.1:${listener.port}`;
    await using rpc = await AsyncRPC.connect(url, { timeout: 0.05, reconnect: false });
    const conn = await accepted;
    await assert.rejects(rpc.ping(), TimeoutException);
    const waiting = rpc.ping();
    conn.close();
    await assert.rejects(waiting, ConnectionLostError);
  } finally {
    listener.close();
  }
});
