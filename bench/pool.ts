/**
 * The worker pool under load. Starts bench/servers/pool_server.ts and reports:
 * - p50/p99/max latency of sequential small inline calls, alone and while CPU-bound pool calls
 *   keep every worker busy (the pool must not add more than a few ms to p99);
 * - the round-trip overhead of a trivial call through the pool against the same call inline.
 *
 *   deno run --allow-net --allow-run --allow-read --allow-env --allow-ffi bench/pool.ts
 */
import { AsyncRPC } from "../mod.ts";
import { spawnServer } from "../tests/helpers.ts";
import { runtime } from "../tests/test_platform.deno.ts";

const CALLS = 3000;

await using server = await spawnServer(new URL("./servers/pool_server.ts", import.meta.url));
const url = server.url;

async function latencies(
  rpc: Awaited<ReturnType<typeof AsyncRPC.connect>>,
  method: string,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await rpc.call(method, [i]);
    out.push((performance.now() - t) * 1000);
  }
  return out.sort((a, b) => a - b);
}

const at = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const row = (name: string, sorted: number[]) =>
  `| ${name} | ${at(sorted, 0.5).toFixed(0)} | ${at(sorted, 0.99).toFixed(0)} | ${
    sorted.at(-1)!.toFixed(0)
  } |`;

const rpc = await AsyncRPC.connect(url, { heartbeat: 0 });
const loader = await AsyncRPC.connect(url, { heartbeat: 0 });
await latencies(rpc, "inline.echo"); // warm up
await latencies(rpc, "pool.echo");
const idleInline = await latencies(rpc, "inline.echo");
const idlePool = await latencies(rpc, "pool.echo");

// Keep every worker (and a queue behind them) busy with 50 ms spins while measuring.
let loading = true;
const workers = runtime().cores;
const load = Array.from({ length: workers * 2 }, async () => {
  while (loading) await loader.call("pool.spin", [50]);
});
const busyInline = await latencies(rpc, "inline.echo");
loading = false;
await Promise.all(load);

console.log(
  `\n${runtime().name}, ${workers} cores, ${workers} workers, ${CALLS} sequential calls each\n`,
);
console.log("| inline echo latency | p50 µs | p99 µs | max µs |");
console.log("| --- | ---: | ---: | ---: |");
console.log(row("pool idle", idleInline));
console.log(row("pool saturated by 50 ms CPU-bound calls", busyInline));
console.log(
  `\nadded p99 under pool load: ${
    ((at(busyInline, 0.99) - at(idleInline, 0.99)) / 1000).toFixed(2)
  } ms\n`,
);
console.log("| trivial call | p50 µs | p99 µs | max µs |");
console.log("| --- | ---: | ---: | ---: |");
console.log(row("inline", idleInline));
console.log(row("through the pool", idlePool));
console.log(
  `\npool/inline round trip (p50): ${(at(idlePool, 0.5) / at(idleInline, 0.5)).toFixed(2)}x`,
);
await Promise.all([rpc.close(), loader.close()]);
