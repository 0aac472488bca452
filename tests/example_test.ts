/** The `deno task serve` example, run as a user would: a separate process, stopped by SIGTERM. */
import assert from "node:assert/strict";
import { AsyncRPC } from "../mod.ts";

Deno.test("example server: serves pymprpc's README example and stops cleanly on SIGTERM", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-ffi", "examples/serve.ts"],
    cwd: new URL("..", import.meta.url).pathname,
    env: { PORT: "0" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
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
    assert.deepEqual(await Array.fromAsync(await rpc.primes(20)), [2, 3, 5, 7, 11, 13, 17, 19]);
    assert.match(await rpc.system.methodHelp("fib"), /Fibonacci/);
  }
  child.kill("SIGTERM");
  await lines.cancel();
  const { code } = await child.status;
  assert.equal(code, 0, "runForever closes gracefully and the process exits 0");
});
