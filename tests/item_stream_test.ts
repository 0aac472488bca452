import assert from "node:assert/strict";
import { test } from "./test_platform.deno.ts";
import { ItemStream } from "../src/item_stream.ts";
import { collect } from "./helpers.ts";

test("ItemStream: items pushed before a failure are read before it", async () => {
  const items = new ItemStream();
  items.push("a");
  items.push("b");
  items.fail(new Error("broke"));
  const seen: unknown[] = [];
  await assert.rejects(async () => {
    for await (const item of items.readable) seen.push(item);
  }, /broke/);
  assert.deepEqual(seen, ["a", "b"]);
});

test("ItemStream: a reader waits for items pushed later, then the end", async () => {
  const items = new ItemStream();
  const reading = collect(items.readable);
  items.push(1);
  await Promise.resolve();
  items.push(2);
  items.end();
  assert.deepEqual(await reading, [1, 2]);
});

test("ItemStream: after the reader cancels, pushes are dropped", async () => {
  const items = new ItemStream();
  items.push(1);
  for await (const _ of items.readable) break;
  assert.equal(items.cancelled, true);
  items.push(2);
  items.end();
});
