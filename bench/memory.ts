/**
 * Memory under a hostile or slow peer: the RSS over time of the side that has to hold what the
 * other side will not take. Linux only (it reads /proc/<pid>/status). Prints Markdown tables.
 *
 *   deno run -A bench/memory.ts
 *
 * 1. **Non-reading client (server memory).** A raw client logs in to bench/servers/memory_server.ts
 *    (its own process) and writes pipelined `echo("y" × 10 000)` calls for 10 s without reading
 *    a single answer. Each second: the server's RSS, and the round trip of `echo(1)` from a second,
 *    well-behaved client. Without server backpressure the answers pile up in the server. Then the
 *    rogue disconnects, and one more call checks the server still serves.
 * 2. **Slow consumer (client memory).** This script in `--consumer <port>` mode (its own process,
 *    so its RSS is its alone) calls `items(2 000 000, 1024)`, holds the stream unread for 6 s,
 *    then reads it all, checking every item arrives once and in order. Without client stream
 *    limits all the server sends during the pause piles up in the consumer.
 *
 * Every process runs on 127.0.0.1 (port 0) and is stopped at the end; a process past 2 GiB of RSS
 * is killed on the spot (and reported), so the run stays safe without flow control.
 *
 * @module
 */
import { AsyncRPC, type AsyncRPCClient } from "../mod.ts";
import { TERM, WireClient } from "../tests/helpers.ts";
import { encode } from "../tests/test_deps.ts";
import { readLines, residentBytes } from "./process_stats.ts";

const RSS_CAP_MB = 2048;
const SERVER = new URL("./servers/memory_server.ts", import.meta.url);
const LOCK = `--lock=${new URL("../deno.dev.lock", import.meta.url).pathname}`;

const ROGUE_SECONDS = 10;
const ROGUE_PAYLOAD = "y".repeat(10_000);
// Calls per write: big enough to keep the socket full, small enough that the count is precise.
const ROGUE_BATCH = 16;
// A probe slower than this counts as failed; it also bounds the wait for the last probes.
const PROBE_TIMEOUT_S = 10;

const ITEMS = 2_000_000;
const ITEM_SIZE = 1024;
const PAUSE_SECONDS = 6;
const READ_LIMIT_SECONDS = 60;
// Past this the consumer is killed: start-up, the pause and the read phase, with room to spare.
const CONSUMER_LIMIT_SECONDS = PAUSE_SECONDS + READ_LIMIT_SECONDS + 15;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (n: number | undefined) => n === undefined ? "—" : Math.round(n).toLocaleString("en-US");
const ms = (n: number | undefined) => n === undefined ? "failed" : n.toFixed(1);

// The resident set of process `pid` in MiB, or undefined once it has exited.
function rssMb(pid: number): number | undefined {
  const bytes = residentBytes(pid);
  return bytes === undefined ? undefined : bytes / (1024 * 1024);
}

function runDeno(script: URL, args: string[] = []): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", LOCK, "-A", script.pathname, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // already exited
  }
}

/** The memory server as its own process; disposing of it kills it (its state is of no use). */
async function startServer() {
  const child = runDeno(SERVER);
  const lines = readLines(child.stdout);
  const port = Number((await lines.next()).value);
  // The server logs each connection to stdout: keep the pipe drained so that it never blocks.
  const drained = (async () => {
    for await (const _ of lines) {
      // dropped
    }
  })();
  return {
    port,
    pid: child.pid,
    url: `tcp://admin:admin@127.0.0.1:${port}`,
    kill: () => kill(child),
    async [Symbol.asyncDispose]() {
      kill(child);
      await child.status;
      await drained;
    },
  };
}

/** The round trip of `echo(1)` in ms, or undefined if it failed or timed out. */
async function probe(rpc: AsyncRPCClient): Promise<number | undefined> {
  const start = performance.now();
  try {
    await rpc.echo(1);
    return performance.now() - start;
  } catch {
    return undefined;
  }
}

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * `count` pipelined calls of `echo(ROGUE_PAYLOAD)` with the IDs `first`, `first + 1`, …: one
 * encoded frame, copied, with its fixed-width ID patched, so that encoding never slows the flood.
 */
function rogueBatch(template: Uint8Array, idAt: number, first: number, count: number): Uint8Array {
  const out = new Uint8Array(template.length * count);
  const ascii = new TextEncoder();
  for (let i = 0; i < count; i++) {
    out.set(template, i * template.length);
    ascii.encodeInto(String(first + i).padStart(10, "0"), out.subarray(i * template.length + idAt));
  }
  return out;
}

function rogueTemplate(): { template: Uint8Array; idAt: number } {
  const id = "0".repeat(10);
  const payload = encode({
    MPRPC: "0.1",
    ID: id,
    METHOD: "echo",
    RETURN: true,
    ARGS: [ROGUE_PAYLOAD],
  });
  const template = new Uint8Array(payload.length + TERM.length);
  template.set(payload);
  template.set(TERM, payload.length);
  // The only run of ten "0" bytes: the payload is "y"s and the other fields hold no "0".
  const idAt = new TextDecoder("latin1").decode(template).indexOf(id);
  return { template, idAt };
}

/**
 * Writes calls to `rogue` until `stop` aborts, never reading; the calls whose bytes the kernel
 * took. A write the server's full socket holds back is abandoned at `stop`, not waited for.
 */
async function flood(rogue: WireClient, stop: AbortSignal): Promise<number> {
  const { template, idAt } = rogueTemplate();
  const stopped = new Promise<"stopped">((resolve) => {
    if (stop.aborted) resolve("stopped");
    stop.addEventListener("abort", () => resolve("stopped"));
  });
  let written = 0;
  while (!stop.aborted) {
    // A write fails once the socket is closed under it, or the server was killed.
    const write = rogue.sendRaw(rogueBatch(template, idAt, written, ROGUE_BATCH))
      .then(() => "written" as const, () => "failed" as const);
    if (await Promise.race([write, stopped]) !== "written") break;
    written += ROGUE_BATCH;
  }
  return written;
}

function latencySummary(latencies: (number | undefined)[]): string {
  const answered = latencies.filter((l) => l !== undefined);
  const failed = `${latencies.length - answered.length} of ${latencies.length} failed`;
  if (answered.length === 0) return `echo(1): ${failed}`;
  return `echo(1) median ${ms(median(answered))} ms, max ${
    ms(Math.max(...answered))
  } ms, ${failed}`;
}

interface RogueSample {
  second: number;
  rss?: number;
  latency: Promise<number | undefined>;
}

/** Scenario 1: a client that writes calls and never reads the answers. */
async function nonReadingClient(): Promise<string[]> {
  await using server = await startServer();
  await using rpc = await AsyncRPC.connect(server.url, { heartbeat: 0, timeout: PROBE_TIMEOUT_S });
  for (let i = 0; i < 100; i++) await rpc.echo(i); // warm up, so that idle includes the JIT
  const idle = rssMb(server.pid);
  const rogue = await WireClient.open(server.port);
  const reply = await rogue.login();
  if (reply?.CODE !== 100) throw new Error(`rogue login failed: ${JSON.stringify(reply)}`);

  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ROGUE_SECONDS * 1000);
  const flooding = flood(rogue, stop.signal);
  const start = performance.now();
  const samples: RogueSample[] = [];
  let killed = false;
  for (let second = 1; second <= ROGUE_SECONDS && !killed; second++) {
    await sleep(start + second * 1000 - performance.now());
    const rss = rssMb(server.pid);
    samples.push({ second, rss, latency: probe(rpc) });
    if (rss !== undefined && rss > RSS_CAP_MB) {
      server.kill();
      killed = true;
    }
  }
  stop.abort();
  clearTimeout(timer);
  const written = await flooding;
  const seconds = (performance.now() - start) / 1000;
  rogue.close();
  const latencies = await Promise.all(samples.map((s) => s.latency));

  // Whatever the server held for the rogue should go with its connection.
  await sleep(2000);
  const afterClose = rssMb(server.pid);
  const lastCall = killed ? undefined : await probe(rpc);

  const rows = [
    "| second | server RSS (MiB) | other client's echo(1) (ms) |",
    "| --- | ---: | ---: |",
    `| idle | ${mb(idle)} | — |`,
    ...samples.map((s, i) => `| ${s.second} | ${mb(s.rss)} | ${ms(latencies[i])} |`),
    `| rogue closed + 2 s | ${mb(afterClose)} | ${ms(lastCall)} |`,
  ];
  const maxRss = Math.max(...samples.map((s) => s.rss ?? 0));
  const stillServing = killed
    ? "not checked (killed)"
    : lastCall === undefined
    ? "**no**"
    : `yes (${ms(lastCall)} ms)`;
  return [
    "### 1. Non-reading client: server memory",
    "",
    ...rows,
    "",
    `- rogue wrote ${written.toLocaleString("en-US")} calls (${
      mb(written * ROGUE_PAYLOAD.length / 2 ** 20)
    } MiB of arguments) in ${seconds.toFixed(1)} s${
      killed ? `; **server killed past ${RSS_CAP_MB} MiB RSS**` : ""
    }`,
    `- other client: ${latencySummary(latencies)}`,
    `- server still serving after the rogue closed: ${stillServing}`,
    `- **max server RSS growth above idle: ${mb(maxRss - (idle ?? 0))} MiB**`,
  ];
}

/** What the consumer child reports, one JSON object a line. */
type ConsumerEvent =
  | { event: "paused"; idleMb: number }
  | { event: "reading" }
  | { event: "done"; count: number; inOrder: boolean; seconds: number; gaveUp: boolean };

function report(event: ConsumerEvent): void {
  console.log(JSON.stringify(event));
}

/** Scenario 2, the child's side: takes the stream, leaves it unread, then reads it all. */
async function consume(port: number): Promise<void> {
  await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${port}`, {
    heartbeat: 0,
  });
  await rpc.echo(1);
  const idleMb = Deno.memoryUsage().rss / 2 ** 20;
  const items: AsyncIterable<string> = await rpc.items(ITEMS, ITEM_SIZE);
  const iterator = items[Symbol.asyncIterator]();
  report({ event: "paused", idleMb });
  await sleep(PAUSE_SECONDS * 1000);

  report({ event: "reading" });
  const start = performance.now();
  const deadline = start + READ_LIMIT_SECONDS * 1000;
  let count = 0;
  let inOrder = true;
  let gaveUp = false;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    inOrder &&= next.value.startsWith(`${count}:`) && next.value.length === ITEM_SIZE;
    // Checking the clock every 4096 items costs nothing next to reading them.
    if (++count % 4096 === 0 && performance.now() > deadline) {
      gaveUp = true;
      await iterator.return?.();
      break;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  report({ event: "done", count, inOrder: inOrder && count === ITEMS, seconds, gaveUp });
}

interface ConsumerSample {
  second: number;
  phase: string;
  consumer?: number;
  server?: number;
}

/** Scenario 2, the parent's side: runs the consumer and samples its RSS each second. */
async function slowConsumer(): Promise<string[]> {
  await using server = await startServer();
  const child = runDeno(new URL(import.meta.url), ["--consumer", String(server.port)]);
  let phase = "starting";
  let idle: number | undefined;
  let done: Extract<ConsumerEvent, { event: "done" }> | undefined;
  const listening = (async () => {
    for await (const line of readLines(child.stdout)) {
      const event = JSON.parse(line) as ConsumerEvent;
      if (event.event === "paused") idle = event.idleMb;
      if (event.event === "done") done = event;
      phase = event.event;
    }
  })();
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));

  const samples: ConsumerSample[] = [];
  let killed: string | undefined;
  const start = performance.now();
  for (let second = 1; !exited; second++) {
    await Promise.race([sleep(start + second * 1000 - performance.now()), status]);
    const consumer = rssMb(child.pid);
    if (phase !== "starting" && consumer !== undefined) {
      samples.push({ second, phase, consumer, server: rssMb(server.pid) });
    }
    if (consumer !== undefined && consumer > RSS_CAP_MB) killed = `past ${RSS_CAP_MB} MiB RSS`;
    if (second >= CONSUMER_LIMIT_SECONDS) killed = `after ${CONSUMER_LIMIT_SECONDS} s`;
    if (killed) kill(child);
  }
  await status;
  await listening;

  const paused = samples.filter((s) => s.phase === "paused");
  const maxPaused = Math.max(...paused.map((s) => s.consumer ?? 0));
  const maxAll = Math.max(...samples.map((s) => s.consumer ?? 0));
  return [
    "### 2. Slow consumer: client memory",
    "",
    "| second | consumer phase | consumer RSS (MiB) | server RSS (MiB) |",
    "| --- | --- | ---: | ---: |",
    `| idle | connected | ${mb(idle)} | — |`,
    ...samples.map((s) => `| ${s.second} | ${s.phase} | ${mb(s.consumer)} | ${mb(s.server)} |`),
    "",
    `- items: ${consumerOutcome(done, killed)}`,
    `- max consumer RSS: ${mb(maxPaused)} MiB during the ${PAUSE_SECONDS} s pause, ${
      mb(maxAll)
    } MiB overall`,
    `- **max consumer RSS growth above idle: ${mb(maxAll - (idle ?? 0))} MiB**`,
  ];
}

function consumerOutcome(
  done: Extract<ConsumerEvent, { event: "done" }> | undefined,
  killed: string | undefined,
): string {
  if (killed) return `**consumer killed ${killed}** before it finished`;
  if (!done) return "**the consumer exited without a result** (see its stderr above)";
  const count = `${done.count.toLocaleString("en-US")} of ${ITEMS.toLocaleString("en-US")}`;
  const order = done.inOrder ? "all in order" : "**not all, or not in order**";
  const gaveUp = done.gaveUp ? ` (**gave up after ${READ_LIMIT_SECONDS} s**)` : "";
  return `${count}, ${order}, read in ${done.seconds.toFixed(1)} s${gaveUp}`;
}

if (Deno.args[0] === "--consumer") {
  await consume(Number(Deno.args[1]));
} else {
  const header = [
    "`deno run -A bench/memory.ts`",
    "",
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores`,
    "",
  ];
  const first = await nonReadingClient();
  const second = await slowConsumer();
  console.log([...header, ...first, "", ...second].join("\n"));
}
