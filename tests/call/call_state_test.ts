import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { CallState } from "../../src/call/call_state.ts";
import { collect } from "../helpers.ts";

test("CallState: a value settles the call; later messages are ignored", async () => {
  const call = new CallState();
  assert.equal(call.value(1), true);
  assert.deepEqual(
    [call.value(2), call.open(), call.item(3), call.end(), call.fail(new Error("late"))],
    [false, undefined, false, false, false],
  );
  assert.equal(await call.result, 1);
});

test("CallState: items only between open and end; a failure after items reaches the reader last", async () => {
  const call = new CallState();
  assert.equal(call.item("too early"), false);
  const stream = call.open()!;
  assert.equal(call.open(), undefined, "opened once");
  call.item("a");
  call.item("b");
  assert.equal(call.fail(new Error("broke")), true);
  assert.equal(call.settled, true);
  assert.equal(call.item("late"), false);
  const seen: unknown[] = [];
  await assert.rejects(async () => {
    for await (const item of stream) seen.push(item);
  }, /broke/);
  assert.deepEqual(seen, ["a", "b"]);
});

test("CallState: a failure before an answer rejects the result; the stream's cancel hook runs", async () => {
  const failed = new CallState();
  failed.fail(new RangeError("no"));
  await assert.rejects(failed.result, RangeError);
  let cancelled = false;
  const streamed = new CallState();
  const stream = streamed.open(() => cancelled = true)!;
  streamed.item(1);
  for await (const _ of stream) break;
  assert.equal(cancelled, true);
  streamed.end();
  assert.deepEqual(await collect(stream), []);
});
