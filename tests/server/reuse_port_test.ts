/** `reusePort`: several servers (processes, usually) on one port, the kernel spreading connections. */
import assert from "node:assert/strict";
import { runtime, test } from "../test_platform.deno.ts";
import { AsyncRPC, type Server } from "../../mod.ts";
import { startServer, urlOf } from "../helpers.ts";

const whoami = (id: string) => (server: Server) =>
  server.registerFunction(function whoami() {
    return id;
  });

// Node gained reusePort in 22.12; older versions would ignore it, so mprpc refuses it there. (The
// Deno suite runs with --unstable-net, which reusePort needs there.)
const nodeWithout = /^Node v(1\d|20|21|22\.(\d|1[01])\.)/.test(runtime().name);

test("server: reusePort lets two servers share a port, the kernel spreading connections over both", async () => {
  if (nodeWithout) {
    await assert.rejects(
      startServer({ reusePort: true }),
      /reusePort needs Node 22.12 or later/,
    );
    return;
  }
  await using a = await startServer({ reusePort: true }, whoami("a"));
  await using _b = await startServer({ reusePort: true, port: a.addr.port }, whoami("b"));
  const clients = await Promise.all(
    Array.from({ length: 32 }, () => AsyncRPC.connect(urlOf(a), { reconnect: false })),
  );
  try {
    const ids = new Set(await Promise.all(clients.map((rpc) => rpc.whoami())));
    assert.deepEqual([...ids].sort(), ["a", "b"]);
  } finally {
    await Promise.all(clients.map((rpc) => rpc.close()));
  }
});

test("server: without reusePort, a second server on the port is refused with the address named", async () => {
  await using a = await startServer({});
  await assert.rejects(
    startServer({ port: a.addr.port }),
    new RegExp(`cannot listen on 127.0.0.1:${a.addr.port}`),
  );
});
