/**
 * A histogram with fixed buckets: counting a value is a short scan and two additions, no
 * allocation; the buckets are made cumulative only when written.
 *
 * @module
 */
import { type Exposition, formatValue, type Labels } from "./exposition.ts";

/**
 * Upper bounds, in seconds, for call durations: from 100 µs (a call answered at once) to five
 * minutes (a long stream).
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
];

/**
 * Observations counted in buckets, with their sum and count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Exposition } from "./exposition.ts";
 * import { Histogram } from "./histogram.ts";
 * const latency = new Histogram([0.1, 1]);
 * latency.observe(0.05);
 * latency.observe(0.5);
 * latency.observe(7);
 * const out = new Exposition();
 * out.family("latency_seconds", "histogram", "How long it took.");
 * latency.write(out, "latency_seconds", { path: "/" });
 * assert.equal(
 *   out.text().split("\n").slice(2).join("\n"),
 *   'latency_seconds_bucket{path="/",le="0.1"} 1\n' +
 *     'latency_seconds_bucket{path="/",le="1"} 2\n' +
 *     'latency_seconds_bucket{path="/",le="+Inf"} 3\n' +
 *     'latency_seconds_sum{path="/"} 7.55\n' +
 *     'latency_seconds_count{path="/"} 3\n',
 * );
 * ```
 */
export class Histogram {
  readonly #bounds: readonly number[];
  // Per bucket, observations above the previous bound and at most this one; the last: above all.
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  /** A histogram with these upper bounds, ascending (`+Inf` is added). */
  constructor(bounds: readonly number[] = DURATION_BUCKETS) {
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  /** Counts one observation. */
  observe(value: number): void {
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.#counts[i]++;
    this.#sum += value;
    this.#count++;
  }

  /** Writes `name_bucket` (cumulative, `le` last among the labels), `name_sum`, `name_count`. */
  write(out: Exposition, name: string, labels: Labels = {}): void {
    let cumulative = 0;
    for (let i = 0; i <= this.#bounds.length; i++) {
      cumulative += this.#counts[i];
      const le = formatValue(i < this.#bounds.length ? this.#bounds[i] : Infinity);
      out.sample(`${name}_bucket`, cumulative, { ...labels, le });
    }
    out.sample(`${name}_sum`, this.#sum, labels);
    out.sample(`${name}_count`, this.#count, labels);
  }
}
