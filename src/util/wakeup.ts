/**
 * Waiting for "something changed, look again": a loop that cannot go on awaits `wait()` and
 * checks its condition again; whoever changes that condition calls `wake()`.
 *
 * @module
 */
import { type Deferred, deferred } from "./deferred.ts";

/**
 * Releases everyone waiting at each {@linkcode Wakeup.wake}; a wake with no one waiting is
 * forgotten, so waiters always re-check their condition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Wakeup } from "./wakeup.ts";
 * const changed = new Wakeup();
 * let ready = false;
 * const waiting = (async () => {
 *   while (!ready) await changed.wait();
 * })();
 * ready = true;
 * changed.wake();
 * await waiting;
 * assert.equal(ready, true);
 * ```
 */
export class Wakeup {
  #waiting?: Deferred<void>;

  /** Resolves at the next {@linkcode Wakeup.wake}. */
  wait(): Promise<void> {
    return (this.#waiting ??= deferred()).promise;
  }

  /** Releases everyone waiting now. */
  wake(): void {
    this.#waiting?.resolve();
    this.#waiting = undefined;
  }
}
