/**
 * Picking a member for a client: the power of two random choices.
 *
 * @module
 */

/**
 * Draws two different candidates at random and returns the one with the lower `load` (the first
 * drawn on a tie); `undefined` when there are none. Against plain least-loaded, it keeps a burst
 * of clients that arrive between two load reports, or at several brokers at once, from all
 * landing on the one member that looked idlest; against a random pick, it still steers clear of
 * an overloaded member. bench/picking.ts measures the three.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pickOfTwo } from "./pick.ts";
 * const load = new Map([["a", 9], ["b", 1], ["c", 5]]);
 * const pick = (random: () => number) => pickOfTwo(["a", "b", "c"], (m) => load.get(m)!, random);
 * assert.equal(pick(() => 0), "b"); // drew a, then b: b is less loaded
 * assert.equal(pickOfTwo([], () => 0), undefined);
 * assert.equal(pickOfTwo(["only"], () => 0), "only");
 * ```
 */
export function pickOfTwo<T>(
  candidates: readonly T[],
  load: (candidate: T) => number,
  random: () => number = Math.random,
): T | undefined {
  const n = candidates.length;
  if (n < 2) return candidates[0];
  const i = Math.floor(random() * n);
  let j = Math.floor(random() * (n - 1));
  if (j >= i) j++; // a second, different candidate
  const [a, b] = [candidates[i], candidates[j]];
  return load(b) < load(a) ? b : a;
}
