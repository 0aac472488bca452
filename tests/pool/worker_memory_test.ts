/**
 * A pool worker that runs out of memory. Node suite only (deno.json excludes it from `deno test`):
 * Deno cannot limit a worker's heap, and there such a worker ends the whole process.
 */
import assert from "node:assert/strict";
import { AsyncRPC, RPCRuntimeError } from "../../mod.ts";
import { startServer, urlOf } from "../helpers.ts";
import { test } from "../test_platform.deno.ts";

test("pool: a worker that runs out of memory fails only its call and is replaced", async () => {
  await using server = await startServer({ workers: 1, workerMemoryLimit: 64 }, (s) => {
    s.registerModule(new URL("../fixtures/handlers.ts", import.meta.url));
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  const err = await rpc.hog().catch((e: RPCRuntimeError) => e);
  assert.ok(err instanceof RPCRuntimeError);
  assert.equal(err.exception, "WorkerDied");
  assert.match(err.message, /the worker running 'hog' died .*memory/i);
  assert.equal(await rpc.add(2, 2), 4);
});
