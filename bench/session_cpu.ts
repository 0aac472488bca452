/**
 * The server's own work per call, with no socket: a `Session` (the server's side of a connection)
 * over an in-memory socket that feeds it batches of 256 pre-encoded `add(i, 2)` calls, the next
 * batch once all are answered, and counts the answers by their terminators. No system calls and
 * no client share the process's time, so this tells changes to the call path apart where the
 * socket benchmarks (`server_cpu.ts`, `halves.ts`) drown them in the machine's noise. Checkouts
 * are loaded into one process and alternate for several rounds; the minimum and median are
 * printed. The session is built as `Server` builds it, from each checkout's own `src/`.
 *
 *   taskset -c 1 deno run -A bench/session_cpu.ts /path/to/old/checkout .
 *
 * @module
 */
import { concat } from "../tests/helpers.ts";
import { encode } from "../tests/test_deps.ts";
import type { Socket } from "../src/platform/transport.ts";
import type { ServerContext, Session } from "../src/server/session.ts";
import type { ServedCall } from "../src/server/served_call.ts";

const BATCH = 256;
const CALLS = 800 * BATCH;
const ROUNDS = 9;
const TERM = new TextEncoder().encode("##PRO-END##");

function frame(message: unknown): Uint8Array {
  return concat([encode(message), TERM]);
}

const auth = frame({ MPRPC: "0.1", AUTH: { USERNAME: "admin", PASSWORD: "admin" } });
// Calls with IDs of a realistic length, not repeated within a batch.
const batches = Array.from(
  { length: 64 },
  (_, b) =>
    concat(
      Array.from({ length: BATCH }, (_, i) =>
        frame({ MPRPC: "0.1", ID: `c.${b}.${i}`, METHOD: "add", RETURN: true, ARGS: [i, 2] })),
    ),
);

const logger = { info() {}, warn() {}, error() {} };

/** A function that serves CALLS calls with the checkout at `dir` and says its µs per call. */
async function load(dir: string): Promise<() => Promise<number>> {
  const src = (path: string) =>
    import(new URL(`src/${path}`, `file://${Deno.realPathSync(dir)}/`).href);
  const [session, codec, registry, dispatcher, results, throttle, inflight, clock, metrics] =
    await Promise.all([
      "server/session.ts",
      "wire/codec.ts",
      "server/registry.ts",
      "server/dispatcher.ts",
      "server/result_store.ts",
      "server/login_throttle.ts",
      "server/inflight_bytes.ts",
      "metrics/turn_clock.ts",
      "server/server_metrics.ts",
    ].map(src));
  const methods = new registry.Registry();
  methods.add(function add(a: number, b: number) {
    return a + b;
  });
  const stored = new results.ResultStore({ ttl: 600_000, count: 1000, bytes: 1 << 26 });
  const counted = new metrics.ServerMetrics((name: string) => methods.get(name) !== undefined);
  const ctx: ServerContext = {
    settings: {
      auth: [["admin", "admin"]],
      timeout: 0,
      debug: false,
      compression: null,
      version: null,
      description: null,
      maxMessageSize: 1 << 26,
      handshakeTimeout: 0,
      accessLog: false,
      maxCallsPerConnection: 1024,
    },
    codec: await codec.Codec.create({}),
    dispatcher: new dispatcher.MethodDispatcher(methods, stored),
    results: stored,
    logger,
    stopped: new AbortController().signal,
    taskStarted() {},
    now: clock.turnNow,
    taskEnded: (call: ServedCall) => counted.callEnded(call.method, call.finalCode, call.started),
    callRefused() {},
    wireBytes: counted.bytes,
    throttle: new throttle.LoginThrottle({ logger }),
    inflightBytes: new inflight.InflightBytes(1 << 28, 1 << 26),
  };
  return async () => {
    const socket = new MemorySocket();
    const started = performance.now();
    await (new session.Session(socket, ctx) as Session).done;
    const elapsed = performance.now() - started;
    if (socket.answers !== CALLS + 1) throw new Error(`${socket.answers} answers`);
    return (elapsed * 1000) / CALLS;
  };
}

/** A socket that reads the handshake, then CALLS calls in batches, and counts what is written. */
class MemorySocket implements Socket {
  readonly remoteAddress = "127.0.0.1:1";
  answers = 0;
  #sent = 0;
  #batch = 0;
  #matched = 0;
  #answered?: () => void;
  readonly readable = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      if (this.#batch++ === 0) return controller.enqueue(auth);
      // One batch at a time, as server_cpu.ts sends them: the same reads in every run.
      if (this.answers < this.#sent + 1) {
        await new Promise<void>((resolve) => this.#answered = resolve);
      }
      if (this.#sent === CALLS) return controller.close();
      controller.enqueue(batches[this.#batch++ % batches.length]);
      this.#sent += BATCH;
    },
  }, { highWaterMark: 0 });
  readonly writable = new WritableStream<Uint8Array>({
    write: (chunk) => {
      for (const byte of chunk) {
        if (byte === TERM[this.#matched]) {
          if (++this.#matched === TERM.length) this.answers++, this.#matched = 0;
        } else {
          // "##PRO-END##" starts with "##": a "#" after a mismatch still matches one or two.
          this.#matched = byte === TERM[0] ? (this.#matched >= 2 ? 2 : 1) : 0;
        }
      }
      if (this.answers === this.#sent + 1) this.#answered?.();
    },
  });
  close(): void {}
}

const dirs = Deno.args.length > 0 ? Deno.args : ["."];
const runs = await Promise.all(dirs.map(load));
const figures = dirs.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < dirs.length; i++) figures[i].push(await runs[i]());
}
for (let i = 0; i < dirs.length; i++) {
  const sorted = figures[i].sort((a, b) => a - b);
  const all = sorted.map((r) => r.toFixed(2)).join(" ");
  const [min, median] = [sorted[0], sorted[sorted.length >> 1]];
  console.log(
    `${dirs[i]}: µs per call in process, min ${min.toFixed(2)}, median ${
      median.toFixed(2)
    } (${all})`,
  );
}
