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
