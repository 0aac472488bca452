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

test("buffer pool: a bigger buffer given back displaces smaller kept ones, never a bigger one", () => {
  const pool = new BufferPool(5000);
  const [a, b, big, bigger] = [2000, 2000, 3000, 4000].map((size) => pool.take(size));
  pool.give(a);
  pool.give(b);
  pool.give(big); // room for it once `a` (the first of the smallest) is dropped
  assert.equal(pool.take(2500), big);
  assert.equal(pool.take(1000), b);
  assert.notEqual(pool.take(1000), a);
  pool.give(bigger);
  pool.give(big); // 4000 + 3000 > 5000, and 4000 is not smaller: `big` is dropped
  assert.equal(pool.take(1000), bigger);
  assert.notEqual(pool.take(1000), big);
});
