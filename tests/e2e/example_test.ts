/**
 * The `deno task serve` example, run as a user would: a separate process, stopped by SIGTERM.
 * Deno only: the example is the Deno entry point (the npm build does not include it).
 */
import assert from "node:assert/strict";
import { scriptCommand, spawn, test } from "../test_platform.deno.ts";
import { AsyncRPC } from "../../mod.ts";
import { collect } from "../helpers.ts";

test("example server: serves pymprpc's README example and stops cleanly on SIGTERM", async () => {
  const [command, args] = scriptCommand(new URL("../../examples/serve.ts", import.meta.url));
  const child = spawn(command, args, { PORT: "0" });
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const banner = (await lines.read()).value ?? "";
  const url = banner.match(/tcp:\/\/\S+/)?.[0];
  assert.ok(url, banner);
  {
    await using rpc = await AsyncRPC.connect(url);
    assert.equal(rpc.remoteInfo?.VERSION, "0.0.1");
    assert.equal(await rpc.testfunc(5, 4), 9);
    assert.equal(await rpc.testcoro(5, 4), 9);
    assert.equal(await rpc.mul(6, 7), 42);
    const items = [];
    for await (const item of await rpc.testcorogen(1, 2)) items.push(item);
    assert.deepEqual(items, [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert.equal(await rpc.system.methodHelp("testfunc"), "Adds a and b.");
    assert.equal(await rpc.fib(20), 6765);
    assert.deepEqual(await collect(await rpc.primes(20)), [2, 3, 5, 7, 11, 13, 17, 19]);
    assert.match(await rpc.system.methodHelp("fib"), /Fibonacci/);
  }
  child.kill();
  await lines.cancel();
  await child.stdin.close();
  const code = await child.status;
  assert.equal(code, 0, "runForever closes gracefully and the process exits 0");
});

test("example cluster: servers behind one broker share the clients, and all stop cleanly on SIGTERM", async () => {
  const [command, args] = scriptCommand(new URL("../../examples/cluster.ts", import.meta.url));
  args.splice(1, 0, "--allow-run"); // it starts the server processes
  const child = spawn(command, args, { BROKER_PORT: "0", SERVERS: "2" });
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // The broker logs joins to stdout before the banner with the address.
  let output = "";
  while (!/broker:\/\/\S+\n/.test(output)) {
    const { value, done } = await lines.read();
    assert.ok(!done, output);
    output += value;
  }
  const url = output.match(/broker:\/\/\S+/)![0];
  const clients = await Promise.all(Array.from({ length: 8 }, () => AsyncRPC.connect(url)));
  try {
    assert.deepEqual(await Promise.all(clients.map((rpc) => rpc.testfunc(5, 4))), Array(8).fill(9));
    const servers = new Set(clients.map((rpc) => rpc.remoteAddress));
    assert.equal(servers.size, 2, "both servers got clients");
  } finally {
    await Promise.all(clients.map((rpc) => rpc.close()));
  }
  child.kill();
  await lines.cancel();
  await child.stdin.close();
  assert.equal(await child.status, 0);
});
