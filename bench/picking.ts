/**
 * Why the broker picks with the power of two random choices: a deterministic simulation of the
 * broker's picking, no sockets. It compares three rules under the broker's real load estimate
 * (a member's last report, `connections + calls + queued`, plus the clients this broker sent it
 * since; see `estimatedLoad` in src/broker/broker.ts):
 *
 * - random: a member drawn uniformly, load ignored;
 * - least-loaded: the member with the lowest estimate (ties drawn at random);
 * - two choices: the real `pickOfTwo` of src/broker/pick.ts.
 *
 * Each scenario runs `TRIALS` times, each trial with its own seed, the three rules on the same
 * random draws (a seeded PRNG written here, so every run prints the same table).
 *
 *   deno run --lock=deno.dev.lock -A bench/picking.ts
 *
 * The model: members have equal capacity; a client is one connection and stays (a burst of
 * arrivals, no departures). At a report, each member tells every broker its true load (its
 * clients, plus the calls it has running) and each broker forgets what it sent since. Brokers
 * know nothing of each other: each counts only its own `sent`.
 *
 * @module
 */
import { pickOfTwo } from "../src/broker/pick.ts";

const TRIALS = 200;
const MEMBERS = 8;

/** A uniform PRNG on [0, 1): SplitMix32-style mixing of a Weyl sequence. Deterministic. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 2 ** 32;
  };
}

/** A picking rule: an index into `loads` (one broker's estimates), using `random`. */
type Rule = (loads: readonly number[], random: () => number) => number;

const indices = Array.from({ length: MEMBERS }, (_, i) => i);

const RULES: [string, Rule][] = [
  ["random", (loads, random) => Math.floor(random() * loads.length)],
  ["least-loaded", (loads, random) => {
    // argmin; among equal estimates, one drawn at random (reservoir of the ties)
    let best = 0;
    let ties = 1;
    for (let i = 1; i < loads.length; i++) {
      if (loads[i] < loads[best]) best = i, ties = 1;
      else if (loads[i] === loads[best] && random() * ++ties < 1) best = i;
    }
    return best;
  }],
  [
    "two choices (pickOfTwo)",
    (loads, random) => pickOfTwo(indices.slice(0, loads.length), (i) => loads[i], random)!,
  ],
];

interface Scenario {
  key: string;
  title: string;
  brokers: number;
  arrivals: number;
  /** Arrivals between two reports (`Infinity`: only the report before the burst). */
  reportEvery: number;
  /** Clients each member holds before the burst. */
  initial: readonly number[];
  /** A member whose reported calls are high and stay high, and how many. */
  slow?: { member: number; calls: number };
}

const SCENARIOS: Scenario[] = [
  {
    key: "a",
    title: "1 broker, 8 idle members, 1000 clients between two reports",
    brokers: 1,
    arrivals: 1000,
    reportEvery: Infinity,
    initial: Array(MEMBERS).fill(0),
  },
  {
    key: "b1",
    title: "2 brokers, 8 idle members, 1000 clients alternating, reports every 50",
    brokers: 2,
    arrivals: 1000,
    reportEvery: 50,
    initial: Array(MEMBERS).fill(0),
  },
  {
    key: "b2",
    title:
      "2 brokers, 7 members at 100 clients + 1 just rejoined (0), 1000 alternating, reports every 50",
    brokers: 2,
    arrivals: 1000,
    reportEvery: 50,
    initial: [0, ...Array(MEMBERS - 1).fill(100)],
  },
  {
    key: "b3",
    title: "as b2, but all 1000 between two reports",
    brokers: 2,
    arrivals: 1000,
    reportEvery: Infinity,
    initial: [0, ...Array(MEMBERS - 1).fill(100)],
  },
  {
    key: "b4",
    title: "as b3, with 4 brokers (clients taking turns among them)",
    brokers: 4,
    arrivals: 1000,
    reportEvery: Infinity,
    initial: [0, ...Array(MEMBERS - 1).fill(100)],
  },
  {
    key: "c",
    title: "1 broker, 8 idle members, one slow (reports 100 calls, always), reports every 50",
    brokers: 1,
    arrivals: 1000,
    reportEvery: 50,
    initial: Array(MEMBERS).fill(0),
    slow: { member: 0, calls: 100 },
  },
];

interface Outcome {
  /** Clients each member holds at the end (initial + sent). */
  clients: number[];
  /** Clients sent to the slow member, if any. */
  toSlow: number;
}

function simulate(scenario: Scenario, rule: Rule, seed: number): Outcome {
  const random = prng(seed);
  const clients = [...scenario.initial];
  const calls = clients.map((_, m) => m === scenario.slow?.member ? scenario.slow.calls : 0);
  const reported = clients.map((n, m) => n + calls[m]);
  const sent = Array.from({ length: scenario.brokers }, () => Array(MEMBERS).fill(0));
  const estimate = Array(MEMBERS).fill(0);
  let toSlow = 0;
  for (let t = 0; t < scenario.arrivals; t++) {
    if (t > 0 && t % scenario.reportEvery === 0) {
      for (let m = 0; m < MEMBERS; m++) reported[m] = clients[m] + calls[m];
      for (const own of sent) own.fill(0);
    }
    const b = t % scenario.brokers; // clients alternate between the brokers
    for (let m = 0; m < MEMBERS; m++) estimate[m] = reported[m] + sent[b][m];
    const m = rule(estimate, random);
    sent[b][m]++;
    clients[m]++;
    if (m === scenario.slow?.member) toSlow++;
  }
  return { clients, toSlow };
}

interface Row {
  maxOverMean: number;
  worstMaxOverMean: number;
  stddev: number;
  slowShare: number;
}

function measure(scenario: Scenario, rule: Rule, scenarioIndex: number): Row {
  let maxOverMean = 0, worst = 0, stddev = 0, slowShare = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const seed = (scenarioIndex + 1) * 1_000_003 + trial * 7919;
    const { clients, toSlow } = simulate(scenario, rule, seed);
    // Balance among the healthy members: the slow one is meant to get fewer.
    const counted = clients.filter((_, m) => m !== scenario.slow?.member);
    const mean = counted.reduce((a, b) => a + b, 0) / counted.length;
    const ratio = Math.max(...counted) / mean;
    maxOverMean += ratio;
    worst = Math.max(worst, ratio);
    stddev += Math.sqrt(counted.reduce((s, n) => s + (n - mean) ** 2, 0) / counted.length);
    slowShare += toSlow / scenario.arrivals;
  }
  return {
    maxOverMean: maxOverMean / TRIALS,
    worstMaxOverMean: worst,
    stddev: stddev / TRIALS,
    slowShare: slowShare / TRIALS,
  };
}

const started = performance.now();
const lines = [
  `Picking simulation: ${MEMBERS} members, ${TRIALS} seeded trials per scenario (means; "worst" over trials).`,
  "Balance is over members' clients at the end (for c, over the 7 healthy members).",
  "",
  "| scenario | rule | max/mean | worst max/mean | stddev (clients) | share to slow member |",
  "| --- | --- | ---: | ---: | ---: | ---: |",
];
SCENARIOS.forEach((scenario, i) => {
  for (const [name, rule] of RULES) {
    const row = measure(scenario, rule, i);
    const share = scenario.slow ? `${(row.slowShare * 100).toFixed(1)} %` : "–";
    lines.push(
      `| ${scenario.key} | ${name} | ${row.maxOverMean.toFixed(3)} | ${
        row.worstMaxOverMean.toFixed(3)
      } | ${row.stddev.toFixed(1)} | ${share} |`,
    );
  }
});
lines.push("", ...SCENARIOS.map((s) => `- ${s.key}: ${s.title}`));
lines.push("", `(${((performance.now() - started) / 1000).toFixed(2)} s)`);
console.log(lines.join("\n"));
