/** Methods for bench/pool.ts. */

/** Returns its argument: the cost of a call and nothing else. */
export function echo(x: unknown): unknown {
  return x;
}

/** Spins the CPU for `ms` milliseconds. */
export function spin(ms: number): number {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n++;
  return n;
}
