/**
 * CPU-heavy methods for the example server, run in its worker pool
 * (`server.registerModule(new URL("./handlers.ts", import.meta.url))`).
 *
 * @module
 */

/** The n-th Fibonacci number, computed the slow way: CPU work that must not block the server. */
export function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** The primes below `limit`, streamed as they are found. */
export async function* primes(limit: number): AsyncGenerator<number> {
  for (let candidate = 2; candidate < limit; candidate++) {
    let prime = true;
    for (let d = 2; d * d <= candidate && prime; d++) prime = candidate % d !== 0;
    if (prime) yield candidate;
  }
}
