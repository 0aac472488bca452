/**
 * The server's CPU time per call, to compare checkouts of mprpc: before and after a change to the
 * hot path. For each checkout it starts `bench/servers/ours_server.ts` pinned to core 0, drives
 * it from core 1 with a lean raw-socket client (pre-encoded `echo` calls sent 256 at a time, the
 * next batch once all are answered; answers counted by their terminators, never decoded), and reads the server's CPU time from
 * /proc. Checkouts alternate for several rounds; the minimum and median are printed. Linux only
 * (taskset).
 *
 *   taskset -c 1 deno run -A bench/server_cpu.ts /path/to/old/checkout .
 *
 * @module
 */
import { concat } from "../tests/helpers.ts";
import { encode } from "../tests/test_deps.ts";

const CALLS = 400_000;
const DEPTH = 256;
const ROUNDS = 7;
const TERM = new TextEncoder().encode("##PRO-END##");
const CLOCK_TICK_MS = 10;

function frame(message: unknown): Uint8Array {
  const payload = encode(message);
  const out = new Uint8Array(payload.length + TERM.length);
  out.set(payload);
  out.set(TERM, payload.length);
  return out;
}

// Milliseconds of CPU (user + system) the process `pid` has used.
function cpuMs(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
}

// Counts terminators in a byte stream read in chunks; `state` is how much of one is matched.
class TerminatorCounter {
  #state = 0;

  count(bytes: Uint8Array): number {
    let found = 0;
    for (const byte of bytes) {
      if (byte === TERM[this.#state]) {
        if (++this.#state === TERM.length) found++, this.#state = 0;
      } else {
        // "##PRO-END##" starts with "##": a mismatched "#" after two of them still matches two.
        this.#state = byte === TERM[0] ? (this.#state >= 2 ? 2 : 1) : 0;
      }
    }
    return found;
  }
}

/** The server CPU microseconds per call of the checkout at `dir`. */
async function measure(dir: string): Promise<number> {
  const server = new Deno.Command("taskset", {
    args: ["-c", "0", Deno.execPath(), "run", "-A", `${dir}/bench/servers/ours_server.ts`],
    cwd: dir,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number.parseInt((await lines.read()).value ?? ""), // the first line: then its pid
  });
  try {
    const buffer = new Uint8Array(1 << 20);
    await conn.write(frame({ MPRPC: "0.1", AUTH: { USERNAME: "admin", PASSWORD: "admin" } }));
    await conn.read(buffer);
    const batch = concat(
      Array.from(
        { length: DEPTH },
        (_, i) => frame({ MPRPC: "0.1", ID: `call-${i}`, METHOD: "echo", RETURN: true, ARGS: [i] }),
      ),
    );
    const counter = new TerminatorCounter();
    const start = cpuMs(server.pid);
    let sent = 0;
    let answered = 0;
    // Lockstep batches: the server sees the same reads and writes in every run, so that its CPU
    // per call does not drift with how the calls happen to bunch up.
    while (answered < CALLS) {
      await conn.write(batch);
      sent += DEPTH;
      while (answered < sent) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`the server in ${dir} closed the connection`);
        answered += counter.count(buffer.subarray(0, n));
      }
    }
    return (cpuMs(server.pid) - start) * 1000 / answered;
  } finally {
    conn.close();
    server.kill();
    await server.status;
    await lines.cancel();
  }
}

const dirs = Deno.args.length > 0 ? Deno.args : ["."];
const figures = new Map(dirs.map((dir) => [dir, [] as number[]]));
for (let round = 0; round < ROUNDS; round++) {
  for (const dir of dirs) figures.get(dir)!.push(await measure(dir));
}
// The minimum is the run least disturbed by the machine (GC, the other core); the median shows
// the spread. Runs of the same code on a 2-core machine differ by up to 1.5x.
for (const [dir, runs] of figures) {
  runs.sort((a, b) => a - b);
  const median = runs[Math.floor(runs.length / 2)];
  const all = runs.map((r) => r.toFixed(2)).join(" ");
  console.log(
    `${dir}: server CPU per call, min ${runs[0].toFixed(2)} µs, median ${
      median.toFixed(2)
    } µs (${all})`,
  );
}
