/**
 * What the benches read about the processes they run: CPU time and resident memory (of this
 * process and of the servers they start), and output lines. Built on `node:` modules so that the
 * same file runs on Deno and on Node; the `/proc` readers are Linux only.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";

// Linux reports utime and stime in clock ticks of 1/100 s on every common configuration
// (`getconf CLK_TCK`); Node and Deno have no portable way to ask.
const CLOCK_TICK_US = 10_000;

/** CPU time (user + system) this process has used so far, in microseconds. */
export function ownCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * CPU time (user + system, all threads) process `pid` has used so far, in microseconds, read from
 * `/proc/<pid>/stat`; precise to one clock tick (10 ms). `undefined` once the process is gone or
 * where there is no `/proc`.
 */
export function processCpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    // The command name, in parentheses, may hold spaces: the fields are counted after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_US;
  } catch {
    return undefined;
  }
}

/** The resident memory of process `pid` in bytes (`/proc/<pid>/status`), or `undefined`. */
export function residentBytes(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "latin1"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The lines of `stream`, as they come. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + text).split("\n");
    rest = lines.pop()!;
    yield* lines;
  }
}
