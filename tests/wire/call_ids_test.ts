import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { encode, fc } from "../test_deps.ts";
import { CallIds } from "../../src/wire/call_ids.ts";

const prefix = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(String.fromCharCode) });
// Call numbers around every power of ten, where the number of digits changes, and any other.
const key = fc.oneof(
  fc.integer({ min: 0, max: 15 }).chain((e) =>
    fc.integer({ min: -1, max: 1 }).map((d) => Math.max(0, 10 ** e + d))
  ),
  fc.maxSafeNat(),
);

test("CallIds: an ID written as bytes is the MessagePack string of the ID, and reads back", () => {
  fc.assert(
    fc.property(prefix, key, (p, k) => {
      const ids = new CallIds(p);
      const out = new Uint8Array(ids.maxBytes + 3);
      const end = ids.write(k, out, 3);
      const bytes = encode(ids.id(k));
      assert.deepEqual(out.subarray(3, end), bytes);
      const header = bytes[0] === 0xd9 ? 2 : 1;
      assert.equal(ids.read(out, 3 + header, end), k);
      assert.equal(ids.keyOf(ids.id(k)), k);
    }),
    { numRuns: 2000 },
  );
});

test("CallIds: an ID that is not exactly prefix then number reads as none of its calls", () => {
  const ids = new CallIds("7f3a.");
  const bytes = (id: string) => new TextEncoder().encode(id);
  for (
    const id of [
      "7f3a.",
      "7f3a.012",
      "7f3a.+12",
      "7f3a.1e3",
      "7f3a.12 ",
      "7f3a.9007199254740992",
      "7f3a.12345678901234567",
      "7f3b.12",
      "x7f3a.12",
    ]
  ) {
    assert.equal(ids.keyOf(id), -1, id);
    assert.equal(ids.read(bytes(id), 0, id.length), -1, id);
  }
  assert.equal(ids.keyOf(12), -1);
  assert.equal(ids.keyOf("7f3a.0"), 0);
  assert.throws(() => new CallIds("é."), TypeError);
  assert.throws(() => new CallIds("x".repeat(201)), TypeError);
});
