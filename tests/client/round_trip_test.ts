/** `AsyncRPC.roundTrip()`: the protocol's heartbeat as a round-trip measurement. */
import assert from "node:assert/strict";
import { listenTcp, test } from "../test_platform.deno.ts";
import type { TcpConnection } from "../test_platform.ts";
import { AsyncRPC, ConnectionLostError, TimeoutException } from "../../mod.ts";
import { indexOf, startServer, TERM, urlOf } from "../helpers.ts";
import { encode } from "../test_deps.ts";

test("ping: many pings in flight each resolve to a round trip", async () => {
  await using server = await startServer();
  await using rpc = await AsyncRPC.connect(urlOf(server));
  const times = await Promise.all(Array.from({ length: 20 }, () => rpc.roundTrip()));
  for (const ms of times) assert.ok(ms >= 0 && Number.isFinite(ms), String(ms));
});

// Reads from `conn` until `count` frames have come (the test's pings are all it sends).
async function frames(conn: TcpConnection, count: number): Promise<void> {
  let seen = new Uint8Array(0);
  const chunk = new Uint8Array(65536);
  for (let found = 0; found < count;) {
    const n = await conn.read(chunk);
    if (n === null) throw new Error("the client closed the connection");
    seen = new Uint8Array([...seen, ...chunk.subarray(0, n)]);
    for (let at = indexOf(seen, TERM); at !== -1; at = indexOf(seen, TERM)) {
      seen = seen.slice(at + TERM.length);
      found++;
    }
  }
}

const frame = (message: unknown) => new Uint8Array([...encode(message), ...TERM]);

test("ping: the nth pong answers the nth ping; past the timeout TimeoutException; then the lost connection", async () => {
  const listener = await listenTcp();
  const accepted = listener.accept().then(async (conn) => {
    await frames(conn, 1); // AUTH
    const reply = { MPRPC: "0.1", CODE: 100, DEBUG: false, COMPRESER: null, TIMEOUT: 0 };
    await conn.write(frame(reply));
    return conn;
  });
  try {
    const url = `tcp://admin:admin@127.0.0.1:${listener.port}`;
    await using rpc = await AsyncRPC.connect(url, { timeout: 0.5, reconnect: false });
    const conn = await accepted;
    const pong = frame({ MPRPC: "0.1", CODE: 101, HEARTBEAT: "pong" });
    const first = rpc.roundTrip();
    let secondDone = false;
    const second = rpc.roundTrip().finally(() => secondDone = true);
    await frames(conn, 2);
    await conn.write(pong);
    await first;
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(secondDone, false, "one pong answered one ping");
    await conn.write(pong);
    await second;
    await assert.rejects(rpc.roundTrip(), TimeoutException);
    const waiting = rpc.roundTrip();
    conn.close();
    await assert.rejects(waiting, ConnectionLostError);
  } finally {
    listener.close();
  }
});
