import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { fc } from "../test_deps.ts";
import { CallTable } from "../../src/client/call_table.ts";

// What a session does to its table: add the next calls, answer a run of those waiting (leaving
// others to wait through hundreds of calls, whose slots are then taken), or look one up (answered
// ones and made-up keys too).
type Step = { add: number } | { answer: number; count: number } | { look: number };

test("CallTable: holds what a Map would, whatever the calls and answers", () => {
  const step = fc.oneof(
    fc.record({ add: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ answer: fc.nat(), count: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ look: fc.integer({ min: -2, max: 100_000 }) }),
  ) as fc.Arbitrary<Step>;
  fc.assert(
    fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
      const table = new CallTable<string>();
      const model = new Map<number, string>();
      let next = 0;
      for (const s of steps) {
        if ("add" in s) {
          for (let i = 0; i < s.add; i++, next++) {
            table.set(next, `call ${next}`);
            model.set(next, `call ${next}`);
          }
        } else if ("answer" in s) {
          const keys = [...model.keys()];
          const from = keys.length > 0 ? s.answer % keys.length : 0;
          for (const key of keys.slice(from, from + s.count)) {
            assert.equal(table.delete(key), model.delete(key));
          }
          assert.equal(table.delete(s.answer), model.delete(s.answer));
          assert.deepEqual(table.values().sort(), [...model.values()].sort());
        } else {
          assert.equal(table.get(s.look), model.get(s.look));
          assert.equal(table.has(s.look), model.has(s.look));
          // -1 is what a session looks up for an ID that is none of its calls.
          if (s.look < 0) assert.equal(table.delete(s.look), false);
        }
      }
      for (const key of model.keys()) assert.equal(table.get(key), model.get(key));
      assert.deepEqual(table.values().sort(), [...model.values()].sort());
    }),
    { numRuns: 500 },
  );
});
