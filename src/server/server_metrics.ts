/**
 * What a server counts for `server.metrics()`: calls by method and status code, their durations,
 * and the bytes its sockets carried; the gauges (connections, calls in flight, the pool) are read
 * when the metrics are written.
 *
 * @module
 */
import type { Exposition } from "../metrics/exposition.ts";
import { Histogram } from "../metrics/histogram.ts";
import type { WireBytes } from "../wire/connection.ts";
import type { MemberLoad } from "../protocol/membership.ts";

/**
 * The `method` label of calls to a method the server does not have: clients choose method names,
 * so only registered ones get a label of their own (a bound on the number of series).
 */
export const UNKNOWN_METHOD = "(unknown)";

/** The `code` label of a call that ended with no answer sent (`RETURN: false`, cancelled, gone). */
export const NO_CODE = "none";

/**
 * The figures read when the metrics are written: the load a server reports to its brokers (open
 * connections, calls started and not finished, calls waiting for a pool worker), and the pool's
 * busy workers.
 */
export interface ServerGauges extends MemberLoad {
  /** Pool workers running a call. */
  poolBusy: number;
}

// One method's finished calls: how many per last status code, and how long they took.
class MethodCalls {
  readonly byCode = new Map<number | undefined, number>();
  readonly duration = new Histogram();
}

/**
 * A server's counters. Counting a call is a comparison with the last call's method name (a map
 * lookup when it changes) and a map lookup by its code: no allocation once its method and code
 * have been seen. Its duration ends when the run of JavaScript that ended it is over (its answer
 * is written then), read once for every call that run ended: a fresh clock reading per call would
 * cost a tenth of a pipelined call, and would tell a call in a batch that it took less than its
 * client waited.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Exposition } from "../metrics/exposition.ts";
 * import { ServerMetrics } from "./server_metrics.ts";
 * const metrics = new ServerMetrics((method) => method === "add");
 * metrics.callEnded("add", 200, performance.now() - 0.2);
 * metrics.callEnded("nope", 404, performance.now());
 * const out = new Exposition();
 * metrics.write(out, { connections: 1, calls: 0, queued: 0, poolBusy: 0 });
 * const lines = out.text().split("\n");
 * assert.ok(lines.includes('mprpc_calls_total{method="add",code="200"} 1'));
 * assert.ok(lines.includes('mprpc_calls_total{method="(unknown)",code="404"} 1'));
 * assert.ok(lines.includes("mprpc_connections 1"));
 * ```
 */
export class ServerMetrics {
  /** The bytes the server's connections read and wrote; connections add to it. */
  readonly bytes: WireBytes = { read: 0, written: 0 };
  readonly #methods = new Map<string, MethodCalls>();
  readonly #known: (method: string) => boolean;
  // The method name last counted under its own name, and its counters.
  #lastMethod?: string;
  #lastCalls?: MethodCalls;
  // Calls ended in this run of JavaScript: their histograms and starts (ms), observed together.
  #ending: Histogram[] = [];
  #starts: number[] = [];

  /** `known`: whether a method name is the server's own (else it counts as `(unknown)`). */
  constructor(known: (method: string) => boolean) {
    this.#known = known;
  }

  /**
   * Counts a finished call: its method, its last status code (if any), and when it started (ms, by
   * `performance.now()`'s clock); its duration is observed once the current run of JavaScript is
   * over.
   */
  callEnded(method: string, code: number | undefined, started: number): void {
    const calls = this.#count(method, code);
    if (this.#ending.length === 0) queueMicrotask(this.#observe);
    this.#ending.push(calls.duration);
    this.#starts.push(started);
  }

  // The durations of the calls that ended in the run now over, by one clock reading.
  readonly #observe = (): void => {
    const now = performance.now();
    const [ending, starts] = [this.#ending, this.#starts];
    for (let i = 0; i < ending.length; i++) ending[i].observe((now - starts[i]) / 1000);
    ending.length = starts.length = 0;
  };

  /** Counts a call answered `code` without being run: no duration. */
  callRefused(method: string, code: number): void {
    this.#count(method, code);
  }

  /** Writes every server family to `out`, with `gauges` as they are now. */
  write(out: Exposition, gauges: ServerGauges): void {
    this.#observe(); // calls ended in this very run count with their durations
    const methods = [...this.#methods].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
    out.family("mprpc_calls_total", "counter", "Calls answered, by method and last status code.");
    for (const [method, calls] of methods) {
      const codes = [...calls.byCode].sort(([a], [b]) => (a ?? 0) - (b ?? 0));
      for (const [code, count] of codes) {
        out.sample("mprpc_calls_total", count, { method, code: String(code ?? NO_CODE) });
      }
    }
    out.family(
      "mprpc_call_duration_seconds",
      "histogram",
      "Seconds from a call's start to its end, for calls that ran.",
    );
    for (const [method, calls] of methods) {
      calls.duration.write(out, "mprpc_call_duration_seconds", { method });
    }
    out.single("mprpc_connections", "gauge", "Open connections.", gauges.connections);
    out.single(
      "mprpc_calls_in_flight",
      "gauge",
      "Calls started and not finished.",
      gauges.calls,
    );
    out.single(
      "mprpc_pool_queued_calls",
      "gauge",
      "Calls waiting for a worker of the pool.",
      gauges.queued,
    );
    out.single("mprpc_pool_busy_workers", "gauge", "Pool workers running a call.", gauges.poolBusy);
    out.single(
      "mprpc_received_bytes_total",
      "counter",
      "Bytes read from client connections.",
      this.bytes.read,
    );
    out.single(
      "mprpc_sent_bytes_total",
      "counter",
      "Bytes written to client connections.",
      this.bytes.written,
    );
  }

  // Counts one call of `method` ended with `code`; the method's counters.
  #count(method: string, code: number | undefined): MethodCalls {
    // As in Registry.get: a name fresh off the wire is dearer to look up than to compare.
    let calls: MethodCalls;
    if (method === this.#lastMethod) calls = this.#lastCalls!;
    else {
      const own = this.#methods.get(method);
      calls = own ?? this.#methodCalls(method);
      // Only a method counted under its own name: one unknown now may be registered later.
      if (own) this.#lastMethod = method, this.#lastCalls = own;
    }
    calls.byCode.set(code, (calls.byCode.get(code) ?? 0) + 1);
    return calls;
  }

  // The counters of a method not seen yet: its own if the server has it, else `(unknown)`'s.
  #methodCalls(method: string): MethodCalls {
    const name = this.#known(method) ? method : UNKNOWN_METHOD;
    let calls = this.#methods.get(name);
    if (!calls) this.#methods.set(name, calls = new MethodCalls());
    return calls;
  }
}
