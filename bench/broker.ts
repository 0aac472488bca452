/**
 * The broker with real processes. A `Broker` runs in this process; its members are
 * bench/servers/member_server.ts, each its own `deno run` process that joins the broker.
 *
 *   deno run --lock=deno.dev.lock -A bench/broker.ts [--quick]
 *
 * 1. Throughput: `CLIENTS` AsyncRPC clients, each with `DEPTH` pipelined `echo` calls in flight,
 *    connected `tcp://` straight to one member (no broker: the reference), then through
 *    `broker://` with one member, and with two, and `tcp://` to two members (4 clients each: the
 *    reference for two). Each round runs the four in turn (the second member is started for its
 *    runs and stopped after), and each figure is the median over rounds, with the min–max
 *    beside it. The table also shows where the clients were sent, the CPU each process used
 *    during the run, in cores (CPU seconds per wall second), and the CPU that other processes
 *    on the machine took meanwhile (Linux only). A brokered run connects once every member has
 *    reported since the previous run ended; just before the two-member runs, 8 clients also
 *    connect straight away, to show where a stale report sends them.
 * 2. Connect time: `AsyncRPC.connect` and the first call, `CONNECTS` times in sequence,
 *    alternating `tcp://` to the member and `broker://` (which adds a connection to the broker
 *    and its one round trip). The broker shares this process's event loop with the client.
 *
 * The broker is never on the call path: through it, calls go straight to the member it named.
 * One client process makes every call (one JavaScript thread, at most one core), and on a
 * 2-core machine it competes with the members for the cores: the two-member figure is bounded
 * by that, not by the broker (see the CPU columns). It cannot show how far members scale.
 *
 * @module
 */
import process from "node:process";
import { AsyncRPC, type AsyncRPCClient, Broker } from "../mod.ts";
import { silentLogger, spawnServer } from "../tests/helpers.ts";
import { runtime } from "../tests/test_platform.deno.ts";

const quick = runtime().args.includes("--quick");
const SECRET = "bench-secret";
const CLIENTS = 8;
const DEPTH = 32;
const CALLS = quick ? 40_000 : 200_000;
const ROUNDS = quick ? 1 : 3;
const CONNECTS = quick ? 50 : 200;
const MEMBER = new URL("./servers/member_server.ts", import.meta.url);

type Member = Awaited<ReturnType<typeof spawnServer>>;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

await using broker = new Broker({ port: 0, secret: SECRET, logger: silentLogger });
await broker.listen();
const brokerUrl = `broker://admin:admin@127.0.0.1:${broker.addr.port}`;
const memberEnv = { BROKER_URL: `tcp://127.0.0.1:${broker.addr.port}`, SECRET };

/** Waits until the broker lists exactly `n` members (a member joins or leaves asynchronously). */
async function membersAre(n: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (broker.members.length !== n) {
    if (Date.now() > deadline) {
      throw new Error(`the broker has ${broker.members.length} members, expected ${n}`);
    }
    await sleep(10);
  }
}

/** A member process that has joined the broker; disposing of it kills it and waits. */
async function startMember(): Promise<Member> {
  const before = broker.members.length;
  const member = await spawnServer(MEMBER, memberEnv);
  try {
    if (!/:\d+$/.test(member.url)) throw new Error("member_server.ts printed no port");
    await membersAre(before + 1);
    return member;
  } catch (err) {
    await member[Symbol.asyncDispose]();
    throw err;
  }
}

async function stopMember(member: Member): Promise<void> {
  const before = broker.members.length;
  await member[Symbol.asyncDispose]();
  await membersAre(before - 1);
}

/** CPU seconds a member process has used (its `usage` method). */
async function memberCpu(member: Member): Promise<number> {
  await using rpc = await AsyncRPC.connect(member.url, { heartbeat: 0 });
  return await rpc.usage();
}

function ownCpu(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * CPU seconds the whole machine has been busy (Linux `/proc/stat`, in USER_HZ = 100 ticks per
 * second), to tell how much of the run's CPU went to other processes; NaN elsewhere.
 */
async function machineCpu(): Promise<number> {
  try {
    const [cpu] = (await Deno.readTextFile("/proc/stat")).split("\n");
    const ticks = cpu.trim().split(/\s+/).slice(1, 9).map(Number); // user … steal
    const idle = ticks[3] + ticks[4]; // idle, iowait
    return (ticks.reduce((a, b) => a + b, 0) - idle) / 100;
  } catch {
    return NaN;
  }
}

/** Calls/s of `DEPTH` pipelined loops per client, `total` calls in all. */
async function inFlight(clients: AsyncRPCClient[], total: number): Promise<number> {
  const perLoop = Math.ceil(total / (clients.length * DEPTH));
  const start = performance.now();
  await Promise.all(clients.flatMap((rpc) =>
    Array.from({ length: DEPTH }, async () => {
      for (let i = 0; i < perLoop; i++) await rpc.echo(i);
    })
  ));
  return (perLoop * DEPTH * clients.length) / ((performance.now() - start) / 1000);
}

interface Run {
  callsPerSecond: number;
  /** How many clients each member got, e.g. "4 + 4". */
  spread: string;
  clientCores: number;
  memberCores: number[];
  /** Cores busy with other processes during the run. */
  otherCores: number;
}

/**
 * `CLIENTS` clients, connected one after another, client i to `urls[i % urls.length]`; all
 * closed if one fails.
 */
async function connectClients(...urls: string[]): Promise<AsyncRPCClient[]> {
  const clients: AsyncRPCClient[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      clients.push(await AsyncRPC.connect(urls[i % urls.length], { heartbeat: 0 }));
    }
    return clients;
  } catch (err) {
    await Promise.all(clients.map((c) => c.close()));
    throw err;
  }
}

/** How many of `clients` each member got, e.g. "4 + 4". */
function spreadOf(clients: AsyncRPCClient[], members: Member[]): string {
  const counts = members.map((m) => {
    const port = m.url.slice(m.url.lastIndexOf(":") + 1);
    return clients.filter((c) => c.remoteAddress?.endsWith(`:${port}`)).length;
  });
  if (counts.reduce((a, b) => a + b, 0) !== clients.length) {
    throw new Error(`clients went elsewhere: ${clients.map((c) => c.remoteAddress)}`);
  }
  return counts.join(" + ");
}

/**
 * Waits until every member has reported its load since now: a report taken during the previous
 * run still counts that run's connections (and calls), although they are gone.
 */
async function freshReports(): Promise<void> {
  const since = Date.now();
  const deadline = since + 10_000;
  while (!broker.members.every((m) => Date.now() - m.reportedAgo * 1000 >= since)) {
    if (Date.now() > deadline) throw new Error("members stopped reporting their load");
    await sleep(20);
  }
}

/** A run of `CALLS` calls by clients of `urls` (see connectClients) on `members`. */
async function throughput(urls: string[], members: Member[]): Promise<Run> {
  if (urls.some((url) => url.startsWith("broker:"))) await freshReports();
  const clients = await connectClients(...urls);
  try {
    const spread = spreadOf(clients, members);
    await inFlight(clients, CALLS / 10); // warm up
    const cpuBefore = await Promise.all(members.map(memberCpu));
    const machineBefore = await machineCpu();
    const ownBefore = ownCpu();
    const start = performance.now();
    const callsPerSecond = await inFlight(clients, CALLS);
    const wall = (performance.now() - start) / 1000;
    const ownAfter = ownCpu();
    const machineAfter = await machineCpu();
    const cpuAfter = await Promise.all(members.map(memberCpu));
    const clientCores = (ownAfter - ownBefore) / wall;
    const memberCores = cpuAfter.map((after, i) => (after - cpuBefore[i]) / wall);
    const machineCores = (machineAfter - machineBefore) / wall;
    return {
      callsPerSecond,
      spread,
      clientCores,
      memberCores,
      otherCores: Math.max(0, machineCores - clientCores - memberCores.reduce((a, b) => a + b, 0)),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Runs calls on a member that just started, so that its code is compiled before it is timed. */
async function warmUp(url: string): Promise<void> {
  const clients = await connectClients(url);
  try {
    await inFlight(clients, CALLS / 2);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Milliseconds of `AsyncRPC.connect(url)` plus its first call; the close is not counted. */
async function connectTime(url: string): Promise<number> {
  const start = performance.now();
  const rpc = await AsyncRPC.connect(url, { heartbeat: 0 });
  try {
    await rpc.echo(1);
    return performance.now() - start;
  } finally {
    await rpc.close();
  }
}

const rows = new Map<string, Run[]>();
const record = (name: string, run: Run) => rows.set(name, [...(rows.get(name) ?? []), run]);
/** Where 8 clients went when they connected before the busy member's next report. */
const staleSpreads: string[] = [];
const direct: number[] = [];
const brokered: number[] = [];

{
  await using first = await startMember();
  for (let round = 0; round < ROUNDS; round++) {
    record("tcp:// direct, 1 member", await throughput([first.url], [first]));
    record("broker://, 1 member", await throughput([brokerUrl], [first]));
    const second = await startMember();
    try {
      // Straight after the busy run: the first member's last report may still show its load.
      const clients = await connectClients(brokerUrl);
      try {
        staleSpreads.push(spreadOf(clients, [first, second]));
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
      await warmUp(second.url); // as warm as the first member before the runs compare them
      record("broker://, 2 members", await throughput([brokerUrl], [first, second]));
      record(
        "tcp:// direct, 2 members",
        await throughput([first.url, second.url], [first, second]),
      );
    } finally {
      await stopMember(second);
    }
  }

  for (let i = 0; i < 20; i++) await connectTime(first.url), await connectTime(brokerUrl);
  for (let i = 0; i < CONNECTS; i++) {
    direct.push(await connectTime(first.url));
    brokered.push(await connectTime(brokerUrl));
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const out = [
  "",
  `${runtime().name}, ${runtime().cores} cores${
    quick ? ", --quick" : ""
  }: ${CLIENTS} clients × ${DEPTH} calls in flight, ${
    fmt(CALLS)
  } echo calls per run, ${ROUNDS} round(s)`,
  "",
  "| configuration | calls/s (median) | min–max | clients per member | CPU cores: client | members | other processes |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const [name, runs] of rows) {
  const rates = runs.map((r) => r.callsPerSecond);
  const mid = runs.find((r) => r.callsPerSecond === median(rates))!;
  out.push(
    `| ${name} | ${fmt(median(rates))} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${
      [...new Set(runs.map((r) => r.spread))].join(", ")
    } | ${mid.clientCores.toFixed(2)} | ${mid.memberCores.map((c) => c.toFixed(2)).join(" + ")} | ${
      mid.otherCores.toFixed(2)
    } |`,
  );
}
const rate = (name: string) => median(rows.get(name)!.map((r) => r.callsPerSecond));
const ratio = (a: string, b: string) => (rate(a) / rate(b)).toFixed(2);
out.push(
  "",
  `broker:// / tcp://: ${ratio("broker://, 1 member", "tcp:// direct, 1 member")}× with 1 member, ${
    ratio("broker://, 2 members", "tcp:// direct, 2 members")
  }× with 2 (the broker is not on the call path; only where clients go can differ).`,
  `2 members / 1 member: ${
    ratio("broker://, 2 members", "broker://, 1 member")
  }× through the broker, ${ratio("tcp:// direct, 2 members", "tcp:// direct, 1 member")}× direct.`,
  `One client process makes every call (one JavaScript thread: at most 1 core), and it shares`,
  `the machine's ${runtime().cores} cores with the members; the CPU columns (median run) show where the`,
  "cores went. So these figures tell whether the broker spreads clients and whether calls",
  "through it cost more, not how far members scale: that needs clients on other machines.",
  "Each brokered run connects after every member has reported since the previous run ended.",
  `Connecting instead just after the 1-member run, the ${CLIENTS} clients went ${
    staleSpreads.join(", ")
  }`,
  "(first member + the one that just joined): a member reports a tenth of an interval after its",
  "connections change, so the first member's report no longer counts that run's closed clients.",
  "",
  `Connect + first call, ${CONNECTS} sequential connects each (alternating):`,
  "",
  "| address | p50 ms | p99 ms | mean ms |",
  "| --- | ---: | ---: | ---: |",
);
for (const [name, samples] of [["tcp:// direct", direct], ["broker://", brokered]] as const) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  out.push(
    `| ${name} | ${percentile(sorted, 0.5).toFixed(2)} | ${percentile(sorted, 0.99).toFixed(2)} | ${
      mean.toFixed(2)
    } |`,
  );
}
console.log(out.join("\n"));
