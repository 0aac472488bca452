import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { ItemStream } from "../../src/call/item_stream.ts";
import { collect } from "../helpers.ts";

test("ItemStream: items pushed before a failure are read before it", async () => {
  const items = new ItemStream();
  items.push("a");
  items.push("b");
  items.fail(new Error("broke"));
  const seen: unknown[] = [];
  await assert.rejects(async () => {
    for await (const item of items) seen.push(item);
  }, /broke/);
  assert.deepEqual(seen, ["a", "b"]);
  assert.deepEqual(
    await items.next(),
    { value: undefined, done: true },
    "the failure is thrown once",
  );
});

test("ItemStream: a reader waits for items pushed later, then the end", async () => {
  const items = new ItemStream();
  const reading = collect(items);
  items.push(1);
  await Promise.resolve();
  items.push(2);
  items.end();
  assert.deepEqual(await reading, [1, 2]);
});

test("ItemStream: breaking out early cancels once, and later pushes are dropped", async () => {
  let cancels = 0;
  const items = new ItemStream(() => cancels++);
  items.push(1);
  items.push(2);
  for await (const _ of items) break;
  assert.equal(items.cancelled, true);
  assert.equal(cancels, 1);
  items.push(3);
  items.end();
  assert.deepEqual(await items.next(), { value: undefined, done: true }, "nothing after the break");
});

test("ItemStream: stopping after the end arrived is not a cancel", async () => {
  let cancels = 0;
  const items = new ItemStream(() => cancels++);
  items.push(1);
  items.end();
  for await (const _ of items) break;
  assert.equal(items.cancelled, false);
  assert.equal(cancels, 0);
});

test("ItemStream: return() ends a next() that is still waiting", async () => {
  const items = new ItemStream();
  const waiting = items.next();
  await items.return();
  assert.deepEqual(await waiting, { value: undefined, done: true });
  items.push("late");
  assert.deepEqual(await items.next(), { value: undefined, done: true }, "late items are dropped");
});
