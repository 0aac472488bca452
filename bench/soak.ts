/**
 * Soak: many calls in flight for a long time, every answer accounted for, and the server's RSS
 * over time. Linux reads the RSS from /proc/<pid>/status; elsewhere the server reports its own.
 *
 *   deno run --lock=deno.dev.lock -A bench/soak.ts [--minutes 1] [--sample 5]
 *     [--connections 64] [--depth 64] [--stream-buffer BYTES] [--only plain|stream|large|cancelled]
 *
 * bench/servers/soak_server.ts runs as its own process. `--connections` AsyncRPC clients each
 * keep `--depth` calls in flight (64 × 64 = 4 096) for `--minutes`, each call one of:
 *
 * | kind      | share | call                                 | counted as answered when                  |
 * | --------- | ----: | ------------------------------------ | ----------------------------------------- |
 * | plain     |   60% | `echo(text)`, or `add(a, b=…)`       | the same text / the sum comes back        |
 * | stream    |   15% | `stream(start, 1…200)`               | every item, in order, then the end        |
 * | large     |    5% | `echo(256 KiB of bytes)`             | the same bytes come back                  |
 * | cancelled |   20% | `slow(60 s)` aborted after 0–20 ms,  | it rejects with the abort's own reason /  |
 * |           |       | or `stream(start, 1 000)` left       | the items read were right                 |
 * |           |       | after 1–50 items                     |                                           |
 *
 * Anything else (a wrong answer, an error, a call still open 60 s after the end) is an answer
 * lost. At the end one more connection checks that the server has no call left running. The
 * server process is killed on every path: the end, an error, Ctrl-C, and a watchdog. It prints
 * a Markdown report, and exits with 1 if any answer was lost.
 *
 * @module
 */
import { AsyncRPC, type AsyncRPCClient } from "../mod.ts";
import { readLines, residentBytes } from "./process_stats.ts";

const LOCK = `--lock=${new URL("../deno.dev.lock", import.meta.url).pathname}`;
const SERVER = new URL("./servers/soak_server.ts", import.meta.url);
const LARGE = 256 * 1024;
// The length of the streams the reader leaves after 1–50 items.
const STREAM_LEFT = 1_000;
// How long calls still open at the end may take to settle before they count as lost.
const DRAIN_SECONDS = 60;
// Rows of the RSS table, at most (samples are thinned evenly to fit).
const TABLE_ROWS = 21;

function option(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  if (at === -1) return fallback;
  const value = Number(Deno.args[at + 1]);
  if (!(value > 0)) throw new Error(`--${name} wants a positive number, not ${Deno.args[at + 1]}`);
  return value;
}

const MINUTES = option("minutes", 1);
const SAMPLE_SECONDS = option("sample", 5);
const CONNECTIONS = option("connections", 64);
const DEPTH = option("depth", 64);
const STREAM_BUFFER = option("stream-buffer", 4 * 2 ** 20);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or `fallback` after `ms`; the timer is cleared either way, so none outlives the run. */
async function orAfter<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<F>((resolve) => timer = setTimeout(() => resolve(fallback), Math.max(0, ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
const mib = (bytes: number | undefined) => bytes === undefined ? "—" : (bytes / 2 ** 20).toFixed(0);
const count = (n: number) => Math.round(n).toLocaleString("en-US");

// ---------------------------------------------------------------------------------------------
// The server process

function startServer() {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", LOCK, "-A", SERVER.pathname],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  };
  const lines = readLines(child.stdout);
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  return {
    pid: child.pid,
    kill,
    get exited() {
      return exited;
    },
    async port(): Promise<number> {
      const first = await orAfter(lines.next(), 30_000, undefined);
      const port = Number(first?.value);
      if (!(port > 0)) throw new Error("the soak server did not start within 30 s");
      // Whatever it prints next (warnings) is dropped, so that the pipe never fills.
      (async () => {
        for await (const _ of lines) {
          // dropped
        }
      })().catch(() => {});
      return port;
    },
    async stop(): Promise<void> {
      kill();
      await status;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The calls

type Kind = "plain" | "stream" | "large" | "cancelled";
const KINDS: Kind[] = ["plain", "stream", "large", "cancelled"];

interface Tally {
  sent: number;
  /** Answered correctly (for "cancelled": ended as a cancelled call should). */
  ok: number;
  lost: number;
}

const tally = Object.fromEntries(KINDS.map((k) => [k, { sent: 0, ok: 0, lost: 0 }])) as Record<
  Kind,
  Tally
>;
let settled = 0;
const problems = new Map<string, number>();

function lose(kind: Kind, problem: string): void {
  tally[kind].lost++;
  problems.set(`${kind}: ${problem}`, (problems.get(`${kind}: ${problem}`) ?? 0) + 1);
}

/** A small deterministic generator (mulberry32): every run makes the same mix of calls. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BIG = new Uint8Array(LARGE);
for (let at = 0; at < LARGE; at += 65536) crypto.getRandomValues(BIG.subarray(at, at + 65536));

function sameBytes(a: Uint8Array, b: unknown): boolean {
  if (!(b instanceof Uint8Array) || b.length !== a.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Reads `items` expecting `start`, `start + 1`, …; at most `limit` of them. The count read. */
async function readStream(
  items: AsyncIterable<unknown>,
  start: number,
  limit: number,
): Promise<number | string> {
  let n = 0;
  for await (const item of items) {
    if (item !== start + n) return `item ${n} was ${JSON.stringify(item)}, not ${start + n}`;
    if (++n >= limit) break;
  }
  return n;
}

/** One call of `kind`: undefined if it ended as it should, else what went wrong. */
async function oneCall(
  rpc: AsyncRPCClient,
  kind: Kind,
  next: () => number,
  tag: string,
): Promise<string | undefined> {
  switch (kind) {
    case "plain": {
      if (next() < 0.5) {
        const text = `${tag} ${"x".repeat(Math.floor(next() * 100))}`;
        const back = await rpc.echo(text);
        return back === text ? undefined : "echo answered another text";
      }
      const [a, b] = [Math.floor(next() * 1e6), Math.floor(next() * 1e6)];
      const sum = await rpc.call("add", [a], { b });
      return sum === a + b ? undefined : `add(${a}, b=${b}) answered ${sum}`;
    }
    case "stream": {
      const start = Math.floor(next() * 1e6);
      const n = 1 + Math.floor(next() * 200);
      const read = await readStream(await rpc.stream(start, n), start, Infinity);
      return read === n ? undefined : typeof read === "string" ? read : `${read} of ${n} items`;
    }
    case "large": {
      const bytes = BIG.slice();
      new DataView(bytes.buffer).setFloat64(0, next()); // this call's own bytes
      return sameBytes(bytes, await rpc.echo(bytes)) ? undefined : "echo answered other bytes";
    }
    case "cancelled": {
      if (next() < 0.5) {
        const controller = new AbortController();
        const reason = new Error(`${tag} cancelled`);
        const timer = setTimeout(() => controller.abort(reason), Math.floor(next() * 20));
        try {
          const answer = await rpc.call("slow", [60_000], {}, { signal: controller.signal });
          return `slow answered ${JSON.stringify(answer)} although cancelled`;
        } catch (err) {
          return err === reason ? undefined : String(err);
        } finally {
          clearTimeout(timer);
        }
      }
      // A stream the reader leaves early: the client cancels it on the server. (Not an endless
      // one: the server runs a stream up to the client's credit window, 4 MiB by default (64 K
      // small items), before the cancel reaches it, and thousands of those would measure only
      // that traffic.)
      const start = Math.floor(next() * 1e6);
      const want = 1 + Math.floor(next() * 50);
      const read = await readStream(await rpc.stream(start, STREAM_LEFT), start, want);
      return read === want ? undefined : typeof read === "string" ? read : `${read} items`;
    }
  }
}

// `--only KIND` runs one kind of call alone (to find which one costs what).
const ONLY = Deno.args.includes("--only")
  ? Deno.args[Deno.args.indexOf("--only") + 1] as Kind
  : undefined;
if (ONLY !== undefined && !KINDS.includes(ONLY)) throw new Error(`--only wants one of ${KINDS}`);

function pickKind(r: number): Kind {
  if (ONLY) return ONLY;
  return r < 0.6 ? "plain" : r < 0.75 ? "stream" : r < 0.8 ? "large" : "cancelled";
}

/** One of the `DEPTH` loops of a connection: a call at a time until `endAt`. */
async function loop(rpc: AsyncRPCClient, id: number, endAt: number): Promise<void> {
  const next = random(id + 1);
  for (let seq = 0; performance.now() < endAt; seq++) {
    const kind = pickKind(next());
    tally[kind].sent++;
    try {
      const problem = await oneCall(rpc, kind, next, `${id}.${seq}`);
      if (problem === undefined) tally[kind].ok++;
      else lose(kind, problem);
    } catch (err) {
      lose(kind, err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      if (!rpc.connected) return; // no reconnecting: the loop would only count more losses
    } finally {
      settled++;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The run

interface Sample {
  seconds: number;
  server?: number;
  client: number;
  callsPerSecond: number;
  lost: number;
}

const totalLost = () => KINDS.reduce((n, k) => n + tally[k].lost, 0);
const totalSent = () => KINDS.reduce((n, k) => n + tally[k].sent, 0);

async function serverRss(pid: number, probe: AsyncRPCClient): Promise<number | undefined> {
  const rss = residentBytes(pid);
  if (rss !== undefined) return rss;
  try {
    return (await probe.with({ timeout: 5 }).memory()).rss;
  } catch {
    return undefined;
  }
}

async function soak(): Promise<string[]> {
  const server = startServer();
  const stopOnSignal = () => {
    server.kill();
    Deno.exit(130);
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stopOnSignal);
  // Past this nothing can be going right: the process ends, the server with it.
  const watchdog = setTimeout(() => {
    console.error("soak: watchdog expired, stopping");
    server.kill();
    Deno.exit(2);
  }, (MINUTES * 60 + DRAIN_SECONDS + 120) * 1000);
  const clients: AsyncRPCClient[] = [];
  try {
    const url = `tcp://admin:admin@127.0.0.1:${await server.port()}`;
    const options = { reconnect: false, streamBuffer: STREAM_BUFFER } as const;
    for (let c = 0; c < CONNECTIONS; c++) clients.push(await AsyncRPC.connect(url, options));
    const probe = await AsyncRPC.connect(url, options);
    clients.push(probe);
    await probe.echo(0);
    const idle = await serverRss(server.pid, probe);

    const start = performance.now();
    const endAt = start + MINUTES * 60_000;
    const loops = Promise.all(
      clients.slice(0, CONNECTIONS).flatMap((rpc, c) =>
        Array.from({ length: DEPTH }, (_, d) => loop(rpc, c * DEPTH + d, endAt))
      ),
    );
    let finished = false;
    loops.finally(() => finished = true);

    const samples: Sample[] = [];
    let lastSettled = 0;
    let lastAt = start;
    for (let i = 1; !finished && !server.exited; i++) {
      await orAfter(loops, start + i * SAMPLE_SECONDS * 1000 - performance.now(), undefined);
      if (finished) break;
      const now = performance.now();
      const sample: Sample = {
        seconds: (now - start) / 1000,
        server: await serverRss(server.pid, probe),
        client: Deno.memoryUsage().rss,
        callsPerSecond: (settled - lastSettled) / ((now - lastAt) / 1000),
        lost: totalLost(),
      };
      [lastSettled, lastAt] = [settled, now];
      samples.push(sample);
      console.error(
        `soak ${sample.seconds.toFixed(0)} s: server ${mib(sample.server)} MiB, client ${
          mib(sample.client)
        } MiB, ${count(sample.callsPerSecond)} calls/s, ${count(settled)} settled, ${
          count(sample.lost)
        } lost`,
      );
      // Past the end the loops only finish their last calls: they have DRAIN_SECONDS for it.
      if (now > endAt + DRAIN_SECONDS * 1000) break;
    }
    await orAfter(loops, endAt + DRAIN_SECONDS * 1000 - performance.now(), undefined);
    const seconds = (performance.now() - start) / 1000;
    const lostOpen = totalSent() - settled; // still unanswered after the drain: lost
    const afterRun = await serverRss(server.pid, probe);

    // Every cancelled call should have stopped on the server too.
    await sleep(1000);
    let leftRunning: number | string;
    try {
      leftRunning = await probe.with({ timeout: 10 }).system.lenUndoneTasks() - 1;
    } catch (err) {
      leftRunning = `unknown (${err})`;
    }
    return report({ idle, samples, seconds, lostOpen, afterRun, leftRunning });
  } finally {
    clearTimeout(watchdog);
    await Promise.all(clients.map((rpc) => rpc.close().catch(() => {})));
    await server.stop();
    for (const signal of signals) Deno.removeSignalListener(signal, stopOnSignal);
  }
}

function report(run: {
  idle?: number;
  samples: Sample[];
  seconds: number;
  lostOpen: number;
  afterRun?: number;
  leftRunning: number | string;
}): string[] {
  const { samples } = run;
  const step = Math.max(1, Math.ceil(samples.length / (TABLE_ROWS - 1)));
  const shown = samples.filter((_, i) => i % step === step - 1 || i === samples.length - 1);
  const lost = totalLost() + run.lostOpen;
  const sent = totalSent();
  // After the first minute (or the first half of a shorter run): the steady state.
  const warm = samples.filter((s) => s.seconds >= Math.min(60, run.seconds / 2));
  const serverWarm = warm.map((s) => s.server).filter((r) => r !== undefined);
  const warmRange = serverWarm.length
    ? `${mib(Math.min(...serverWarm))}–${mib(Math.max(...serverWarm))} MiB`
    : "—";
  const firstWarm = serverWarm[0];
  const lastWarm = serverWarm.at(-1);
  return [
    `\`deno run --lock=deno.dev.lock -A bench/soak.ts --minutes ${MINUTES}\``,
    "",
    `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os}; ${CONNECTIONS} connections × ${DEPTH} calls in flight`,
    "",
    "| time | server RSS (MiB) | client RSS (MiB) | calls/s | answers lost |",
    "| ---: | ---: | ---: | ---: | ---: |",
    `| idle | ${mib(run.idle)} | — | — | — |`,
    ...shown.map((s) =>
      `| ${formatTime(s.seconds)} | ${mib(s.server)} | ${mib(s.client)} | ${
        count(s.callsPerSecond)
      } | ${count(s.lost)} |`
    ),
    `| end | ${mib(run.afterRun)} | ${mib(Deno.memoryUsage().rss)} | — | ${count(lost)} |`,
    "",
    "| kind | sent | answered as expected | lost |",
    "| --- | ---: | ---: | ---: |",
    ...KINDS.map((k) =>
      `| ${k} | ${count(tally[k].sent)} | ${count(tally[k].ok)} | ${count(tally[k].lost)} |`
    ),
    `| **all** | ${count(sent)} | ${count(sent - totalLost() - run.lostOpen)} | **${
      count(lost)
    }** |`,
    "",
    `- calls: ${count(sent)} in ${run.seconds.toFixed(0)} s, ${
      count(sent / run.seconds)
    } calls/s; answers lost: **${count(lost)}**${
      run.lostOpen ? ` (${count(run.lostOpen)} never settled)` : ""
    }`,
    `- server RSS after warm-up: ${warmRange} (first ${mib(firstWarm)}, last ${mib(lastWarm)} MiB)`,
    `- calls still running on the server afterwards: ${run.leftRunning}`,
    ...(problems.size
      ? [
        "- problems (first 10):",
        ...[...problems].slice(0, 10).map(([p, n]) => `  - ${n} × ${p}`),
      ]
      : []),
  ];
}

function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

console.log((await soak()).join("\n"));
// The exit code says whether every answer came back (a script can check it).
Deno.exit(totalLost() === 0 && totalSent() === settled ? 0 : 1);
