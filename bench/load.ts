/**
 * The end-to-end load tool. Starts the mprpc server and the bare baseline server
 * (bench/servers/) as separate processes, drives each with the same AsyncRPC client, and prints
 * a Markdown table of the figures and the ratio ours/baseline.
 *
 *   deno run --allow-net --allow-run --allow-read --allow-env --allow-ffi bench/load.ts [--quick]
 */
import { AsyncRPC, type AsyncRPCClient } from "../mod.ts";
import { spawnServer } from "../tests/helpers.ts";
import { runtime } from "../tests/test_platform.deno.ts";

const quick = runtime().args.includes("--quick");
const SEQUENTIAL = quick ? 2_000 : 10_000;
const PIPELINED = quick ? 20_000 : 100_000;
const STREAM_ITEMS = 100_000;
const BIG_CALLS = quick ? 10 : 40;
// Rounds alternate ours and the baseline, and each figure is the median over rounds, so that a
// noisy moment on a 2-core machine does not decide a ratio.
const ROUNDS = quick ? 1 : 3;

interface Figures {
  [workload: string]: { value: number; unit: string; higherIsBetter: boolean };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function inFlight(clients: AsyncRPCClient[], depth: number, total: number): Promise<number> {
  const perLoop = Math.ceil(total / (clients.length * depth));
  const start = performance.now();
  await Promise.all(clients.flatMap((rpc) =>
    Array.from({ length: depth }, async () => {
      for (let i = 0; i < perLoop; i++) await rpc.echo(i);
    })
  ));
  return (perLoop * depth * clients.length) / ((performance.now() - start) / 1000);
}

async function measure(url: string): Promise<Figures> {
  const figures: Figures = {};
  const rpc = await AsyncRPC.connect(url, { heartbeat: 0 });
  try {
    for (let i = 0; i < 1000; i++) await rpc.echo(i); // warm up
    const latencies: number[] = [];
    const start = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t = performance.now();
      await rpc.echo(i);
      latencies.push((performance.now() - t) * 1000);
    }
    const seconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    figures["sequential calls/s"] = {
      value: SEQUENTIAL / seconds,
      unit: "calls/s",
      higherIsBetter: true,
    };
    figures["sequential p50"] = {
      value: percentile(latencies, 0.5),
      unit: "µs",
      higherIsBetter: false,
    };
    figures["sequential p99"] = {
      value: percentile(latencies, 0.99),
      unit: "µs",
      higherIsBetter: false,
    };

    figures["256 in flight, 1 connection"] = {
      value: await inFlight([rpc], 256, PIPELINED),
      unit: "calls/s",
      higherIsBetter: true,
    };

    const many = await Promise.all(
      Array.from({ length: 8 }, () => AsyncRPC.connect(url, { heartbeat: 0 })),
    );
    try {
      figures["8 connections × 64 in flight"] = {
        value: await inFlight(many, 64, PIPELINED),
        unit: "calls/s",
        higherIsBetter: true,
      };
    } finally {
      await Promise.all(many.map((c) => c.close()));
    }

    const streamStart = performance.now();
    let count = 0;
    for await (const _ of await rpc.stream(STREAM_ITEMS)) count++;
    if (count !== STREAM_ITEMS) throw new Error(`stream delivered ${count} items`);
    figures["100 000-item stream"] = {
      value: STREAM_ITEMS / ((performance.now() - streamStart) / 1000),
      unit: "items/s",
      higherIsBetter: true,
    };

    const big = crypto.getRandomValues(new Uint8Array(64 * 1024));
    const blob = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 16; i++) blob.set(big, i * big.length);
    const bigStart = performance.now();
    for (let i = 0; i < BIG_CALLS; i++) {
      const back: Uint8Array = await rpc.echo(blob);
      if (back.length !== blob.length) throw new Error("echo lost bytes");
    }
    figures["1 MiB binary echo"] = {
      value: BIG_CALLS * 2 / ((performance.now() - bigStart) / 1000),
      unit: "MiB/s",
      higherIsBetter: true,
    };
  } finally {
    await rpc.close();
  }
  return figures;
}

async function run(file: URL): Promise<Figures> {
  await using server = await spawnServer(file);
  return await measure(server.url);
}

function median(rounds: Figures[]): Figures {
  const out: Figures = {};
  for (const name of Object.keys(rounds[0])) {
    const values = rounds.map((r) => r[name].value).sort((a, b) => a - b);
    out[name] = { ...rounds[0][name], value: values[Math.floor(values.length / 2)] };
  }
  return out;
}

const oursRounds: Figures[] = [];
const baselineRounds: Figures[] = [];
for (let round = 0; round < ROUNDS; round++) {
  oursRounds.push(await run(new URL("./servers/mprpc_server.ts", import.meta.url)));
  baselineRounds.push(await run(new URL("./servers/baseline_server.ts", import.meta.url)));
}
const ours = median(oursRounds);
const baseline = median(baselineRounds);
const fmt = (n: number) => n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);
console.log(
  `\n${runtime().name}, ${runtime().cores} cores${quick ? ", --quick" : ""}\n`,
);
console.log("| workload | mprpc | baseline | ours/baseline |");
console.log("| --- | ---: | ---: | ---: |");
for (const [name, { value, unit }] of Object.entries(ours)) {
  const base = baseline[name].value;
  console.log(
    `| ${name} | ${fmt(value)} ${unit} | ${fmt(base)} ${unit} | ${(value / base).toFixed(2)} |`,
  );
}
