/**
 * mprpc's `AsyncRPC` as a load client for bench/halves.ts (the client half): pipelined
 * `add(1, 2)`, `depth` calls in flight on one connection, each answer checked. Prints one
 * {@linkcode Measurement} as a JSON line, like bench/lean_client.ts.
 *
 * `--workload check` instead checks a server is a correct peer for `AsyncRPC`: add, echo (binary,
 * text, nested values, 1 MiB), a stream read in order, an unknown method's error, concurrent
 * calls, and which framing was negotiated: an argument holding `##PRO-END##` goes through only
 * over `len32` (over 0.1 the client refuses to send it, with 405).
 *
 *   deno run --lock=deno.dev.lock -A bench/rpc_client.ts --port P [--framing 0.1|len32]
 *     [--workload pipelined|check] [--depth N] [--calls K] [--warmup W] [--server-pid PID]
 *
 * `--framing` names the framing the server will agree to (AsyncRPC always asks for `len32`).
 *
 * @module
 */
import { AsyncRPC, type AsyncRPCClient } from "../mod.ts";
import { runtime } from "../tests/test_platform.deno.ts";
import {
  type Framing,
  type Measurement,
  measureWindow,
  numberFlag,
  parseFlags,
} from "./measurement.ts";

/** `calls` add(1,2) calls on `rpc`, `depth` at a time; resolves once all are answered. */
async function pipeline(rpc: AsyncRPCClient, depth: number, calls: number): Promise<number> {
  const perLoop = Math.ceil(calls / depth);
  await Promise.all(Array.from({ length: depth }, async () => {
    for (let i = 0; i < perLoop; i++) {
      const sum = await rpc.add(1, 2);
      if (sum !== 3) throw new Error(`add(1, 2) answered ${sum}`);
    }
  }));
  return perLoop * depth;
}

async function pipelined(rpc: AsyncRPCClient, flags: Map<string, string>, framing: Framing) {
  const depth = numberFlag(flags, "depth", 256);
  const calls = numberFlag(flags, "calls", 200_000);
  const warmup = numberFlag(flags, "warmup", 20_000);
  const pid = numberFlag(flags, "server-pid", NaN);
  await pipeline(rpc, depth, warmup);
  const window = await measureWindow(
    Number.isInteger(pid) ? pid : undefined,
    () => pipeline(rpc, depth, calls),
  );
  return { workload: "pipelined", framing, ...window } satisfies Measurement;
}

function assertEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual, binaryAsText);
  const e = JSON.stringify(expected, binaryAsText);
  if (a !== e) throw new Error(`${what}: expected ${e.slice(0, 200)}, got ${a.slice(0, 200)}`);
}

// JSON has no binary: bytes compare as their text, with the type marked.
function binaryAsText(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? `bin:${value.length}:${value.join(",")}` : value;
}

async function checkStream(rpc: AsyncRPCClient, n: number): Promise<void> {
  let next = 0;
  for await (const item of await rpc.stream(n)) {
    if (item !== next) throw new Error(`stream item ${next} was ${item}`);
    next++;
  }
  if (next !== n) throw new Error(`stream(${n}) ended after ${next} items`);
}

async function checkFraming(rpc: AsyncRPCClient, framing: Framing): Promise<void> {
  const text = "a##PRO-END##b";
  const outcome = await rpc.echo(text).then((v: unknown) => v, (e: Error) => e);
  if (framing === "len32") return assertEqual(outcome, text, "echo of a terminator over len32");
  if (!(outcome instanceof Error)) throw new Error("a terminator went through over 0.1 framing");
}

/** Checks the server is a correct peer for AsyncRPC; the number of checks passed. */
async function check(rpc: AsyncRPCClient, framing: Framing): Promise<number> {
  assertEqual(await rpc.add(1, 2), 3, "add(1, 2)");
  assertEqual(await rpc.add(-5, 2.5), -2.5, "add(-5, 2.5)");
  const values = [null, true, 0, -1, 2 ** 40, 1.5, "", "héllo 中文", [1, [2, {}]], {
    a: { b: [null, "x"] },
  }, new Uint8Array([0, 35, 35, 255])];
  for (const value of values) assertEqual(await rpc.echo(value), value, "echo");
  const big = crypto.getRandomValues(new Uint8Array(65536));
  const mib = new Uint8Array(1 << 20).map((_, i) => big[i & 0xffff]);
  assertEqual(await rpc.echo(mib), mib, "echo of 1 MiB");
  await checkStream(rpc, 0);
  await checkStream(rpc, 1000);
  await checkStream(rpc, 100_000);
  const missing = await rpc.nope().then(() => undefined, (e: { code?: number }) => e);
  if (missing?.code !== 401) throw new Error(`an unknown method gave ${JSON.stringify(missing)}`);
  const sums = await Promise.all(Array.from({ length: 500 }, (_, i) => rpc.add(i, i)));
  assertEqual(sums, Array.from({ length: 500 }, (_, i) => 2 * i), "500 concurrent adds");
  const [streamed, sum] = await Promise.all([checkStream(rpc, 5000), rpc.add(2, 2)]);
  assertEqual([streamed, sum], [undefined, 4], "a call during a stream");
  await checkFraming(rpc, framing);
  return values.length + 10;
}

async function main(args: string[]): Promise<void> {
  const flags = parseFlags(args);
  const framing = flags.get("framing") ?? "len32";
  if (framing !== "0.1" && framing !== "len32") throw new Error("--framing is 0.1 or len32");
  const port = numberFlag(flags, "port", NaN);
  if (!Number.isInteger(port)) throw new Error("--port is required");
  const workload = flags.get("workload") ?? "pipelined";
  await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${port}`, {
    heartbeat: 0,
  });
  if (workload === "check") {
    const start = performance.now();
    const units = await check(rpc, framing);
    const seconds = (performance.now() - start) / 1000;
    console.log(JSON.stringify({ workload, framing, units, seconds, clientCpuUs: 0 }));
  } else if (workload === "pipelined") {
    console.log(JSON.stringify(await pipelined(rpc, flags, framing)));
  } else {
    throw new Error(`no workload '${workload}': pipelined, check`);
  }
}

await main(runtime().args);
