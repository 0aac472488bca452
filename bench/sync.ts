/**
 * Sequential call latency of the synchronous client against AsyncRPC, in one run, against the
 * same server process (bench/servers/ours_server.ts).
 *
 *   deno run --allow-net --allow-run --allow-read --allow-env --allow-ffi bench/sync.ts
 */
import { AsyncRPC, RPC } from "../mod.ts";
import { spawnServer } from "../tests/helpers.ts";
import { runtime } from "../tests/test_platform.deno.ts";

const CALLS = 5000;
await using server = await spawnServer(new URL("./servers/ours_server.ts", import.meta.url));
const url = server.url;

const at = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

async function measure(call: (i: number) => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t = performance.now();
    await call(i);
    out.push((performance.now() - t) * 1000);
  }
  return out.sort((a, b) => a - b);
}

const asyncRpc = await AsyncRPC.connect(url, { heartbeat: 0 });
const syncRpc = RPC.connect(url, { heartbeat: 0 });
await measure((i) => asyncRpc.echo(i)); // warm up both
await measure((i) => syncRpc.echo(i));
const asyncTimes = await measure((i) => asyncRpc.echo(i));
const syncTimes = await measure((i) => syncRpc.echo(i));
console.log(`\n${runtime().name}, ${CALLS} sequential echo calls each\n`);
console.log("| client | p50 µs | p99 µs |");
console.log("| --- | ---: | ---: |");
console.log(
  `| AsyncRPC | ${at(asyncTimes, 0.5).toFixed(0)} | ${at(asyncTimes, 0.99).toFixed(0)} |`,
);
console.log(
  `| RPC (sync) | ${at(syncTimes, 0.5).toFixed(0)} | ${at(syncTimes, 0.99).toFixed(0)} |`,
);
console.log(`\nsync/async p50: ${(at(syncTimes, 0.5) / at(asyncTimes, 0.5)).toFixed(2)}x`);
syncRpc.close();
await asyncRpc.close();
