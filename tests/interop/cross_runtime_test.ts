/**
 * Node and Deno against each other. Runs in the Node suite only (deno.json excludes it from
 * `deno test`): it needs the built package, and spawns `deno` for the other side.
 */
import assert from "node:assert/strict";
import { AsyncRPC, NotFindError, RPC } from "../../mod.ts";
import { collect, spawnServer, startServer } from "../helpers.ts";
import { spawn, test } from "../test_platform.deno.ts";

// This file runs from npm/esm/tests/; the TypeScript sources are in the repository root.
const REPO = new URL("../../../../", import.meta.url);
const deno = (file: string): [string, string[]] => [
  "deno",
  [
    "run",
    `--lock=${new URL("deno.dev.lock", REPO).pathname}`,
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-ffi",
    new URL(file, REPO).pathname,
  ],
];

test("cross-runtime: the Node clients call a Deno server", async () => {
  await using server = await spawnServer(deno("tests/fixtures/sync_server.ts"));
  await using rpc = await AsyncRPC.connect(server.url);
  assert.equal(await rpc.testfunc(5, 4), 9);
  assert.equal(await rpc.call("testfunc", [], { a: 1, b: 2 }), 3);
  assert.deepEqual(await collect(await rpc.range(3)), [0, 1, 2]);
  await assert.rejects(rpc.nope(), NotFindError);
  using sync = RPC.connect(server.url);
  assert.equal(sync.testfunc(2, 2), 4);
});

test("cross-runtime: a Deno client calls a Node server", async () => {
  await using server = await startServer({ description: "node" }, (s) => {
    s.registerFunction(function testfunc(a: number, b: number) {
      return a + b;
    });
    s.registerFunction(async function* range(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
  });
  const [command, args] = deno("tests/interop/cross_runtime/deno_client.ts");
  const child = spawn(command, [...args, `tcp://admin:admin@127.0.0.1:${server.addr.port}`]);
  await child.stdin.close();
  const output = await new Response(child.stdout).text();
  assert.equal(await child.status, 0);
  assert.deepEqual(JSON.parse(output), {
    runtime: "node",
    testfunc: 9,
    kwargs: 3,
    items: [0, 1, 2],
    missing: true,
  });
});
