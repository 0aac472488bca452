/**
 * What a load client of bench/halves.ts reports, and how it measures a window: wall time, its own
 * CPU and the server's, around exactly the calls counted (after warm-up). Shared by
 * bench/lean_client.ts and bench/rpc_client.ts, which print one {@linkcode Measurement} as a JSON
 * line.
 *
 * @module
 */
import { ownCpuMicros, processCpuMicros } from "./process_stats.ts";

/** The framing after the handshake: 0.1 terminators, or the `len32` extension. */
export type Framing = "0.1" | "len32";

/** One measured run of one workload. */
export interface Measurement {
  /** The workload, as the client was told (`pipelined`, `sequential`, `echo`, `stream`, `idle`). */
  workload: string;
  /** The framing used after the handshake. */
  framing: Framing;
  /** What was counted: calls answered, stream items, or MiB moved (both directions). */
  units: number;
  /** Wall time of the measured window. */
  seconds: number;
  /** The client process's CPU time in the window (user + system, all threads). */
  clientCpuUs: number;
  /** The server process's CPU time in the window, if its pid was given (Linux `/proc`). */
  serverCpuUs?: number;
  /** Sequential workload: the median round trip. */
  p50Us?: number;
  /** Sequential workload: the 99th percentile round trip. */
  p99Us?: number;
  /** Idle workload: the server's resident memory growth per authenticated connection. */
  rssBytesPerConnection?: number;
}

/** Wall time and both sides' CPU time around `run`, which resolves to the units it did. */
export async function measureWindow(
  serverPid: number | undefined,
  run: () => Promise<number>,
): Promise<Pick<Measurement, "units" | "seconds" | "clientCpuUs" | "serverCpuUs">> {
  const server0 = serverPid === undefined ? undefined : processCpuMicros(serverPid);
  const client0 = ownCpuMicros();
  const start = performance.now();
  const units = await run();
  const seconds = (performance.now() - start) / 1000;
  const clientCpuUs = ownCpuMicros() - client0;
  const server1 = serverPid === undefined ? undefined : processCpuMicros(serverPid);
  const serverCpuUs = server0 === undefined || server1 === undefined
    ? undefined
    : server1 - server0;
  return { units, seconds, clientCpuUs, serverCpuUs };
}

/** `--name value` pairs of a command line, as a map (a bare `--flag` maps to `"true"`). */
export function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    if (!args[i].startsWith("--")) throw new Error(`unexpected argument '${args[i]}'`);
    const next = args[i + 1];
    const hasValue = next !== undefined && !next.startsWith("--");
    flags.set(args[i].slice(2), hasValue ? next : "true");
    if (hasValue) i++;
  }
  return flags;
}

/** The number flag `name`, or `fallback` when absent. */
export function numberFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const text = flags.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`--${name} must be a number, not '${text}'`);
  return value;
}

/** The `p` quantile (0–1) of ascending `sorted`. */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}
