import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { BufferPool } from "../../src/wire/buffer_pool.ts";

test("buffer pool: lends the smallest kept buffer that is big enough, each once", () => {
  const pool = new BufferPool(10_000);
  const [small, medium, large] = [1000, 2000, 4000].map((size) => pool.take(size));
  for (const buffer of [large, small, medium]) pool.give(buffer);
  assert.equal(pool.take(1500), medium);
  assert.equal(pool.take(1500), large);
  assert.notEqual(pool.take(1500), small, "too small: a new buffer");
  assert.equal(pool.take(10), small);
  const fresh = pool.take(10);
  assert.ok(![small, medium, large].includes(fresh), "nothing kept: a new buffer");
  assert.equal(fresh.length, 10);
});

test("buffer pool: keeps at most maxBytes, whatever is given back", () => {
  const pool = new BufferPool(5000);
  const buffers = [3000, 3000, 2000].map((size) => pool.take(size));
  for (const buffer of buffers) pool.give(buffer);
  // The second 3000 would pass 5000: dropped; the 2000 fits beside the first.
  assert.equal(pool.take(3000), buffers[0]);
  assert.equal(pool.take(2000), buffers[2]);
  assert.notEqual(pool.take(3000), buffers[1]);
});
