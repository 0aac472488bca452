/**
 * Which half costs what: mprpc's server and mprpc's client, each against the practical limit,
 * with both sides' CPU time shown next to every figure. Linux only (`/proc`).
 *
 * - **Server half.** mprpc's server (bench/servers/ours_server.ts) against the bare server
 *   (bench/servers/bare_server.ts: framing and msgpack, no RPC machinery), both driven by the lean
 *   client (bench/lean_client.ts): 1 connection × 256 in flight, 8 × 64, sequential p50/p99,
 *   1 MiB echo, a 500 000-item stream (100 000 with --quick); 0.1 (terminator) framing and
 *   `len32`, separately.
 * - **Client half.** `AsyncRPC` (bench/rpc_client.ts) against the lean client, both driving the
 *   bare server with pipelined add(1, 2), 256 in flight; `len32`, and 0.1 (the bare server
 *   started with `--no-len32`, since AsyncRPC always asks for `len32`).
 * - **Memory.** Each server's RSS growth per idle authenticated connection (5000 of them), each
 *   in a fresh process.
 *
 * Every server and every client runs in its own process. Rounds alternate which server (or
 * client) goes first; each figure is the median over rounds. A client measures its own CPU
 * (`process.cpuUsage()`) and the server's (`/proc/<pid>/stat`, 10 ms ticks) around exactly the
 * calls it counts, after a warm-up. Prints a Markdown table.
 *
 *   deno run --lock=deno.dev.lock -A bench/halves.ts [--rounds 3] [--quick] [--pin]
 *     [--check] [--no-check]
 *
 * `--quick`: smaller runs, one round. `--pin`: servers on core 0, clients on core 1 (taskset).
 * `--check`: only the correctness checks (AsyncRPC against each server, the lean client's every
 * workload against each server and framing), which otherwise run first; `--no-check` skips them.
 *
 * @module
 */
import { runtime, scriptCommand, spawn } from "../tests/test_platform.deno.ts";
import type { Child } from "../tests/test_platform.ts";
import type { Framing, Measurement } from "./measurement.ts";
import { numberFlag, parseFlags } from "./measurement.ts";

const OURS = new URL("./servers/ours_server.ts", import.meta.url);
const BARE = new URL("./servers/bare_server.ts", import.meta.url);
const LEAN = new URL("./lean_client.ts", import.meta.url);
const RPC = new URL("./rpc_client.ts", import.meta.url);

const flags = parseFlags(runtime().args);
const quick = flags.has("quick");
const pin = flags.has("pin");
const ROUNDS = numberFlag(flags, "rounds", quick ? 1 : 3);
const scale = (full: number, small: number) => String(quick ? small : full);
// Runs long enough (0.5 s and more) that /proc's 10 ms CPU ticks and the machine's hiccups are
// small beside them.
const PIPELINED = ["--calls", scale(400_000, 40_000), "--warmup", scale(20_000, 5_000)];
const FRAMINGS: Framing[] = ["0.1", "len32"];

/** A row of the server half: what the lean client is told, and how the figure is read. */
interface Workload {
  name: string;
  args: string[];
  unit: string;
  /** What CPU is counted per: a call, an item, a MiB moved. */
  per: string;
  /** The figure from one measurement. */
  value: (m: Measurement) => number;
}

const rate = (m: Measurement) => m.units / m.seconds;

const SERVER_WORKLOADS: Workload[] = [
  {
    name: "1 conn × 256 in flight",
    args: ["--workload", "pipelined", "--conns", "1", "--depth", "256", ...PIPELINED],
    unit: "calls/s",
    per: "call",
    value: rate,
  },
  {
    name: "8 conns × 64 in flight",
    args: ["--workload", "pipelined", "--conns", "8", "--depth", "64", ...PIPELINED],
    unit: "calls/s",
    per: "call",
    value: rate,
  },
  {
    name: "sequential p50",
    args: ["--workload", "sequential", "--calls", scale(8_000, 2_000), "--warmup", "1000"],
    unit: "µs",
    per: "call",
    value: (m) => m.p50Us!,
  },
  {
    name: "1 MiB echo",
    args: ["--workload", "echo", "--calls", scale(400, 20), "--warmup", "5"],
    unit: "MiB/s",
    per: "MiB",
    value: rate,
  },
  {
    name: `${quick ? "100k" : "500k"}-item stream`,
    args: ["--workload", "stream", "--items", scale(500_000, 100_000), "--warmup", "20000"],
    unit: "items/s",
    per: "item",
    value: rate,
  },
];

/** The lines of `stream`, as they come. (Not process_stats.ts's: that one is Deno-only.) */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + text).split("\n");
    rest = lines.pop()!;
    yield* lines;
  }
}

/** A server or client process's command: on Deno with every permission (`/proc` needs it). */
function command(script: URL, core: number): [string, string[]] {
  const [cmd, args] = scriptCommand(script);
  // Deno's command is `deno run --lock=… --allow-… script`; Node's needs no permissions.
  const all: [string, string[]] = args[0] === "run"
    ? [cmd, ["run", ...args.filter((a) => a.startsWith("--lock")), "-A", script.pathname]]
    : [cmd, args];
  return pin ? ["taskset", ["-c", String(core), all[0], ...all[1]]] : all;
}

/** A server in its own process, and what it printed: its port and pid. */
interface RunningServer {
  port: number;
  pid: number;
  child: Child;
}

async function startServer(script: URL, args: string[] = []): Promise<RunningServer> {
  const [cmd, base] = command(script, 0);
  const child = spawn(cmd, [...base, ...args]);
  const lines = readLines(child.stdout);
  const port = Number((await lines.next()).value);
  const pid = Number((await lines.next()).value);
  if (!Number.isInteger(port) || !Number.isInteger(pid)) {
    child.kill("SIGKILL");
    throw new Error(`${script.pathname} did not print its port and pid`);
  }
  // Nothing more is printed, but the pipe is drained all the same, so a stray line never blocks.
  (async () => {
    for await (const _ of lines) { /* dropped */ }
  })();
  return { port, pid, child };
}

async function stopServer(server: RunningServer): Promise<void> {
  server.child.kill("SIGKILL");
  await server.child.status;
}

/** Runs a client script to its end; the measurement it printed last. */
async function runClient(script: URL, server: RunningServer, args: string[]) {
  const [cmd, base] = command(script, 1);
  const child = spawn(cmd, [
    ...base,
    "--port",
    String(server.port),
    "--server-pid",
    String(server.pid),
    ...args,
  ]);
  void child.stdin.close().catch(() => {});
  let last = "";
  for await (const line of readLines(child.stdout)) if (line.trim()) last = line;
  const code = await child.status;
  if (code !== 0) throw new Error(`${script.pathname} ${args.join(" ")} exited with ${code}`);
  return JSON.parse(last) as Measurement;
}

/** Every measurement of one table row, by side ("ours" / "baseline"). */
type Samples = Map<string, { ours: Measurement[]; baseline: Measurement[] }>;

function record(samples: Samples, row: string, side: "ours" | "baseline", m: Measurement) {
  if (!samples.has(row)) samples.set(row, { ours: [], baseline: [] });
  samples.get(row)![side].push(m);
}

// Rounds alternate who goes first, so that neither side always runs on a warmer machine.
function inTurn<T>(round: number, pair: [T, T]): [T, T] {
  return round % 2 === 0 ? pair : [pair[1], pair[0]];
}

async function serverHalf(round: number, samples: Samples): Promise<void> {
  const ours = await startServer(OURS);
  const bare = await startServer(BARE);
  try {
    for (const framing of FRAMINGS) {
      for (const w of SERVER_WORKLOADS) {
        const sides = inTurn(round, [["ours", ours], ["baseline", bare]] as const);
        for (const [side, server] of sides) {
          const m = await runClient(LEAN, server, [...w.args, "--framing", framing]);
          record(samples, `server: ${w.name}, ${framing}`, side, m);
          if (w.name === "sequential p50") {
            record(samples, `server: sequential p99, ${framing}`, side, m);
          }
        }
      }
    }
  } finally {
    await stopServer(ours);
    await stopServer(bare);
  }
}

async function clientHalf(round: number, samples: Samples): Promise<void> {
  for (const framing of FRAMINGS) {
    const bare = await startServer(BARE, framing === "len32" ? [] : ["--no-len32"]);
    try {
      const args = [
        "--workload",
        "pipelined",
        "--depth",
        "256",
        ...PIPELINED,
        "--framing",
        framing,
      ];
      const sides = inTurn(round, [["ours", RPC], ["baseline", LEAN]] as const);
      for (const [side, client] of sides) {
        record(
          samples,
          `client: 256 in flight, ${framing}`,
          side,
          await runClient(client, bare, args),
        );
      }
    } finally {
      await stopServer(bare);
    }
  }
}

async function memory(round: number, samples: Samples): Promise<void> {
  const conns = scale(5_000, 1_000);
  for (const [side, script] of inTurn(round, [["ours", OURS], ["baseline", BARE]] as const)) {
    const server = await startServer(script);
    try {
      const m = await runClient(LEAN, server, ["--workload", "idle", "--conns", conns]);
      record(samples, "memory: idle connection", side, m);
    } finally {
      await stopServer(server);
    }
  }
}

/** Correctness first: a figure from a wrong peer means nothing. */
async function checks(): Promise<void> {
  const servers = {
    ours: await startServer(OURS),
    bare: await startServer(BARE),
    bare01: await startServer(BARE, ["--no-len32"]),
  };
  try {
    await runClient(RPC, servers.ours, ["--workload", "check", "--framing", "len32"]);
    await runClient(RPC, servers.bare, ["--workload", "check", "--framing", "len32"]);
    await runClient(RPC, servers.bare01, ["--workload", "check", "--framing", "0.1"]);
    console.error("checked: AsyncRPC against ours, bare (len32), bare (0.1)");
    const small = ["--calls", "3000", "--warmup", "100", "--items", "5000"];
    for (const server of [servers.ours, servers.bare]) {
      for (const framing of FRAMINGS) {
        for (const workload of ["pipelined", "sequential", "echo", "stream"]) {
          const calls = workload === "echo" ? ["--calls", "5", "--warmup", "1"] : small;
          await runClient(LEAN, server, ["--workload", workload, "--framing", framing, ...calls]);
        }
        await runClient(LEAN, server, [
          "--workload",
          "pipelined",
          "--conns",
          "8",
          "--depth",
          "64",
          "--framing",
          framing,
          ...small,
        ]);
      }
    }
    console.error("checked: the lean client's workloads against ours and bare, 0.1 and len32");
  } finally {
    for (const server of Object.values(servers)) await stopServer(server);
  }
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (n: number) =>
  n >= 100 ? Math.round(n).toLocaleString("en-US") : n >= 10 ? n.toFixed(1) : n.toFixed(2);

// "client · server" CPU µs per unit, and each side's share of a core over the window.
function cpuCell(runs: Measurement[]): string {
  const client = median(runs.map((m) => m.clientCpuUs / m.units));
  const server = median(runs.map((m) => (m.serverCpuUs ?? NaN) / m.units));
  const clientBusy = median(runs.map((m) => m.clientCpuUs / 1e4 / m.seconds));
  const serverBusy = median(runs.map((m) => (m.serverCpuUs ?? NaN) / 1e4 / m.seconds));
  return `${fmt(client)} · ${fmt(server)} (${Math.round(clientBusy)}% · ${
    Math.round(serverBusy)
  }%)`;
}

/** How a row's figure is read from a measurement, and its unit and CPU denominator. */
function rowFigure(row: string): { value: (m: Measurement) => number; unit: string; per: string } {
  if (row.startsWith("memory")) {
    return { value: (m) => m.rssBytesPerConnection! / 1024, unit: "KiB", per: "conn" };
  }
  if (row.includes("p99")) return { value: (m) => m.p99Us!, unit: "µs", per: "call" };
  if (row.startsWith("client")) return { value: rate, unit: "calls/s", per: "call" };
  const w = SERVER_WORKLOADS.find((w) => row === `server: ${w.name}, ${row.split(", ").pop()}`)!;
  return w;
}

function table(samples: Samples): string[] {
  const lines = [
    "| row | ours | baseline | ours/baseline (rounds' range) | CPU µs/unit, ours run: client · server (busy) | baseline run: client · server (busy) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const [row, { ours, baseline }] of samples) {
    const { value, unit, per } = rowFigure(row);
    const a = median(ours.map(value));
    const b = median(baseline.map(value));
    // Each round measured both sides back to back: its own ratio shows how far rounds disagree.
    const ratios = ours.map((m, i) => value(m) / value(baseline[i]));
    const spread = ratios.length > 1
      ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`
      : "";
    const cpu = row.includes("p99") ? ["″", "″"] : [cpuCell(ours), cpuCell(baseline)];
    lines.push(
      `| ${row} | ${fmt(a)} ${unit} | ${fmt(b)} ${unit} | ${(a / b).toFixed(2)}${spread} | ${
        cpu[0]
      } /${per} | ${cpu[1]} /${per} |`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const start = performance.now();
  if (!flags.has("no-check")) await checks();
  if (flags.has("check")) return;
  const samples: Samples = new Map();
  for (let round = 0; round < ROUNDS; round++) {
    await serverHalf(round, samples);
    await clientHalf(round, samples);
    await memory(round, samples);
    console.error(
      `round ${round + 1} of ${ROUNDS} done, ${Math.round((performance.now() - start) / 1000)} s`,
    );
  }
  const { name, cores } = runtime();
  console.log(
    `\n${name}, ${cores} cores, ${ROUNDS} round(s), medians${quick ? ", --quick" : ""}${
      pin ? ", pinned" : ""
    }\n`,
  );
  console.log(
    "Server rows: ours = mprpc's server, baseline = the bare server, both driven by the lean client. " +
      "Client rows: ours = AsyncRPC, baseline = the lean client, both driving the bare server. " +
      "Memory: RSS growth per idle authenticated connection.\n",
  );
  console.log(table(samples).join("\n"));
}

await main();
