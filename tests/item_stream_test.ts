import assert from "node:assert/strict";
import { ItemStream } from "../src/item_stream.ts";

Deno.test("ItemStream: items pushed before a failure are read before it", async () => {
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

Deno.test("ItemStream: a reader waits for items pushed later, then the end", async () => {
  const items = new ItemStream();
  const reading = Array.fromAsync(items.readable);
  items.push(1);
  await Promise.resolve();
  items.push(2);
  items.end();
  assert.deepEqual(await reading, [1, 2]);
});

Deno.test("ItemStream: after the reader cancels, pushes are dropped", async () => {
  const items = new ItemStream();
  items.push(1);
  for await (const _ of items.readable) break;
  assert.equal(items.cancelled, true);
  items.push(2);
  items.end();
});
