/**
 * What timers can and cannot do.
 *
 * @module
 */

/**
 * The longest delay `setTimeout` can wait, in milliseconds (about 24.8 days): a longer one fires
 * at once, so callers treat a longer wait as none.
 */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * `setTimeout`, except that a delay longer than {@linkcode MAX_TIMER_DELAY} never fires (where
 * `setTimeout` would fire it at once): for delays that come from options and peers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { timer } from "./timers.ts";
 * assert.equal(timer(() => {}, 30 * 24 * 3600 * 1000), undefined); // 30 days: never
 * const soon = timer(() => {}, 10);
 * clearTimeout(soon);
 * ```
 */
export function timer(fn: () => void, ms: number): ReturnType<typeof setTimeout> | undefined {
  return ms > MAX_TIMER_DELAY ? undefined : setTimeout(fn, ms);
}
