/**
 * The onion both sides' middleware runs in: each function gets the call and a `next` that runs
 * the rest of the chain (the call itself last), and resolves to what the call should resolve to.
 *
 * @module
 */

/** A function around a call: `next()` runs the rest; what it returns is the call's result. */
export type Around<C> = (ctx: C, next: () => Promise<unknown>) => unknown;

/**
 * Runs `chain` around `last` for `ctx`, in order (the first added is the outermost); resolves to
 * the outermost's result. A throw anywhere becomes a rejection. A function may call `next()` again
 * once the last one has settled (a retry), but not while it is still running: that would run
 * the rest of the chain twice at once, which is a mistake, and rejects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runAround } from "./middleware.ts";
 * const seen: string[] = [];
 * const result = await runAround<string[]>(
 *   [
 *     async (ctx, next) => {
 *       ctx.push("outer in");
 *       const value = await next();
 *       ctx.push("outer out");
 *       return (value as number) * 10;
 *     },
 *     (ctx, next) => (ctx.push("inner"), next()),
 *   ],
 *   seen,
 *   () => 4,
 * );
 * assert.equal(result, 40);
 * assert.deepEqual(seen, ["outer in", "inner", "outer out"]);
 * ```
 */
export function runAround<C>(
  chain: readonly Around<C>[],
  ctx: C,
  last: (ctx: C) => unknown,
): Promise<unknown> {
  // Not `async`: a step hands on the promise its function returned, with no wrapper and no
  // extra turn, which is most of what a middleware costs a call.
  const step = (index: number): Promise<unknown> => {
    try {
      return Promise.resolve(index === chain.length ? last(ctx) : chain[index](ctx, next(index)));
    } catch (err) {
      return Promise.reject(err);
    }
  };
  const next = (index: number) => {
    let running = false;
    const settled = () => void (running = false);
    return (): Promise<unknown> => {
      if (running) {
        const twice = Promise.reject(
          new Error("a middleware called next() while its last next() ran"),
        );
        twice.catch(() => {}); // a middleware that drops it must not end the process either
        return twice;
      }
      running = true;
      const rest = step(index + 1);
      // Also marks `rest` handled: a middleware that drops what next() returns must not leave a
      // rejection unhandled (that would end the process); the call is answered with what the
      // middleware returned.
      rest.then(settled, settled);
      return rest;
    };
  };
  return step(0);
}

/** A function around a synchronous call: `next()` runs the rest and returns the result. */
export type AroundSync<C> = (ctx: C, next: () => unknown) => unknown;

/**
 * {@linkcode runAround} for synchronous calls (the blocking client): `next()` returns the rest's
 * result, or throws its error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runAroundSync } from "./middleware.ts";
 * const doubled = runAroundSync<number[]>([(ctx, next) => (next() as number) * 2], [3], (ctx) => ctx[0]);
 * assert.equal(doubled, 6);
 * ```
 */
export function runAroundSync<C>(
  chain: readonly AroundSync<C>[],
  ctx: C,
  last: (ctx: C) => unknown,
): unknown {
  const step = (index: number): unknown => {
    if (index === chain.length) return last(ctx);
    let running = false;
    return chain[index](ctx, () => {
      if (running) throw new Error("a middleware called next() while its last next() ran");
      running = true;
      try {
        return step(index + 1);
      } finally {
        running = false;
      }
    });
  };
  return step(0);
}

/** Checks that `fn` can be a middleware: a function of `(ctx, next)`. */
export function checkMiddleware(fn: unknown): void {
  if (typeof fn !== "function") {
    throw new TypeError(`use() takes a function (ctx, next) => result, not ${typeof fn}`);
  }
}
