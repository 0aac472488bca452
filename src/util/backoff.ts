/**
 * Waiting between retries: exponential backoff with jitter, and a sleep that an `AbortSignal`
 * cuts short. The client's reconnect loop and a server's broker membership both use them.
 *
 * @module
 */
import { timer } from "./timers.ts";

/**
 * The delay in milliseconds before retry number `attempt` (0 for the first): `min` doubled per
 * attempt, at most `max`, then a random point in its upper half, so that many peers that lost
 * the same server at once do not come back in step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./backoff.ts";
 * const delay = backoffDelay(3, 100, 5000);
 * assert.ok(delay >= 400 && delay <= 800);
 * assert.ok(backoffDelay(30, 100, 5000) <= 5000);
 * ```
 */
export function backoffDelay(attempt: number, min: number, max: number): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(attempt, 52));
  return ceiling / 2 + Math.random() * ceiling / 2;
}

/**
 * Waits `ms` milliseconds; resolves `true`, or `false` at once if `signal` aborts first. The
 * timer never outlives the wait.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sleep } from "./backoff.ts";
 * assert.equal(await sleep(1), true);
 * const stop = new AbortController();
 * stop.abort();
 * assert.equal(await sleep(60_000, stop.signal), false);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(handle);
      signal?.removeEventListener("abort", aborted);
      resolve(slept);
    };
    const aborted = () => done(false);
    const handle = timer(() => done(true), ms);
    signal?.addEventListener("abort", aborted, { once: true });
  });
}
