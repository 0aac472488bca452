/**
 * The HAProxy recipe, examples/haproxy.cfg, run for real: three servers behind an HAProxy started
 * from the recipe (its own addresses, a faster health check). Clients spread over the servers;
 * when one server closes, its clients reconnect through HAProxy to the others by themselves.
 * HAProxy must be installed (`.ci/run` installs Debian's); `MPRPC_HAPROXY` overrides its path.
 */
import assert from "node:assert/strict";
import {
  env,
  listenTcp,
  makeTempFile,
  readFile,
  removeFile,
  spawn,
  test,
  writeTextFile,
} from "../test_platform.deno.ts";
import type { Child } from "../test_platform.ts";
import {
  AsyncRPC,
  type AsyncRPCClient,
  ConnectionLostError,
  type DisconnectDetail,
  type Server,
} from "../../mod.ts";
import { startServer } from "../helpers.ts";

const HAPROXY = env("MPRPC_HAPROXY") ?? "/usr/sbin/haproxy";
const CLIENTS = 9;

// The recipe as users copy it (the npm build puts it at the same place relative to this test).
const RECIPE = new URL("../../examples/haproxy.cfg", import.meta.url);

async function readRecipe(): Promise<string> {
  return new TextDecoder().decode(await readFile(RECIPE));
}

async function requireHaproxy(): Promise<void> {
  try {
    await readFile(new URL(`file://${HAPROXY}`));
  } catch {
    throw new Error(
      `HAProxy is not installed at ${HAPROXY}: install it (apt-get install haproxy, as .ci/run ` +
        `does) or point MPRPC_HAPROXY at it`,
    );
  }
}

/**
 * The recipe with the test's addresses and a health check fast enough for a test; every other
 * line as written. A recipe that no longer has the lines replaced here fails the test.
 */
function configFrom(recipe: string, frontend: number, backends: number[]): string {
  let binds = 0, checks = 0, servers = 0;
  const lines = recipe.split("\n").flatMap((line) => {
    const indent = /^\s*/.exec(line)![0];
    const directive = line.trim();
    if (directive.startsWith("bind ")) {
      binds++;
      return [`${indent}bind 127.0.0.1:${frontend}`];
    }
    if (directive.startsWith("default-server ")) {
      checks++;
      assert.match(directive, / check inter \S+ /);
      // Checked every 100 ms (a check that takes longer fails), down after the recipe's count.
      return [line.replace(/ inter \S+ /, " inter 100ms ")];
    }
    if (directive.startsWith("server ")) {
      // The recipe's server lines make way for ours, where its first one was.
      return servers++ > 0
        ? []
        : backends.map((port, i) => `${indent}server s${i + 1} 127.0.0.1:${port}`);
    }
    return [line];
  });
  assert.deepEqual({ binds, checks, hasServers: servers > 0 }, {
    binds: 1,
    checks: 1,
    hasServers: true,
  }, "examples/haproxy.cfg no longer has the lines this test adapts");
  return lines.join("\n");
}

/** A port that was free a moment ago, for HAProxy's frontend. */
async function freePort(): Promise<number> {
  const listener = await listenTcp();
  listener.close();
  return listener.port;
}

/** `promise`, or a rejection naming `what` after `seconds`. */
async function within<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The first client: HAProxy is ready once a connection through it gets an MPRPC handshake.
 * Until then a connect is refused at once; each failure waits 50 ms (or for HAProxy's exit,
 * which ends the wait with its exit code), at most 200 times.
 */
async function firstClient(url: string, haproxy: Child): Promise<AsyncRPCClient> {
  let exited: number | undefined;
  const exit = haproxy.status.then((code) => exited = code);
  for (let attempt = 1;; attempt++) {
    try {
      return await AsyncRPC.connect(url, { connectTimeout: 2 });
    } catch (err) {
      if (attempt === 200) throw new Error(`HAProxy did not accept clients: ${err}`);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([exit, new Promise((resolve) => timer = setTimeout(resolve, 50))]);
    clearTimeout(timer);
    if (exited !== undefined) throw new Error(`HAProxy exited with code ${exited}`);
  }
}

/** The detail of the next `"disconnect"` event of `rpc`. */
function disconnected(rpc: AsyncRPCClient): Promise<DisconnectDetail> {
  return new Promise((resolve) =>
    rpc.addEventListener(
      "disconnect",
      (event) => resolve((event as CustomEvent<DisconnectDetail>).detail),
      { once: true },
    )
  );
}

/** How many of `ports` are each port. */
function tally(ports: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const port of ports) counts[port] = (counts[port] ?? 0) + 1;
  return counts;
}

test("haproxy: leastconn spreads clients over the servers; a dead server's clients move on", async () => {
  await requireHaproxy();
  const servers: Server[] = [];
  const clients: AsyncRPCClient[] = [];
  let config: URL | undefined;
  let haproxy: Child | undefined;
  let haproxyLog: Promise<string> | undefined;
  let passed = false;
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startServer({}, (server) => {
          server.registerFunction(function whoami() {
            return server.addr.port;
          });
          server.registerFunction(function add(a: number, b: number) {
            return a + b;
          });
        }),
      );
    }
    const ports = servers.map((server) => server.addr.port);
    const frontend = await freePort();
    config = await makeTempFile();
    await writeTextFile(config, configFrom(await readRecipe(), frontend, ports));
    haproxy = spawn(HAPROXY, ["-f", decodeURIComponent(config.pathname), "-db"]);
    haproxyLog = new Response(haproxy.stdout).text(); // the recipe logs to stdout

    const url = `tcp://admin:admin@127.0.0.1:${frontend}`;
    clients.push(await firstClient(url, haproxy));
    while (clients.length < CLIENTS) clients.push(await AsyncRPC.connect(url));
    const ask = (rpc: AsyncRPCClient) => rpc.with({ timeout: 5 });

    // Each connection went to the server holding the fewest: three each, unless a health check
    // (100 ms is short on a busy machine) counted a server out for a moment; one each at least.
    const before: number[] = await Promise.all(clients.map((rpc) => ask(rpc).whoami()));
    const spread = tally(before);
    for (const port of ports) {
      assert.ok(
        spread[port] >= 1,
        `no client reached the server on ${port}: ${JSON.stringify(spread)}`,
      );
    }
    assert.deepEqual(
      await Promise.all(clients.map((rpc, i) => ask(rpc).add(i, 100))),
      clients.map((_, i) => i + 100),
    );

    // One server goes away: its clients' connections end, and they reconnect on their own.
    const [victim, ...live] = servers;
    const dead = victim.addr.port;
    const moved = clients.filter((_, i) => before[i] === dead);
    const lost = moved.map((rpc) => disconnected(rpc));
    await victim.close();
    const losses = await within(Promise.all(lost), 5, "the connections to the closed server end");
    for (const { error, reconnecting } of losses) {
      assert.ok(error instanceof ConnectionLostError, `lost with ${error}`);
      assert.equal(reconnecting, true);
    }

    // Every client answers: the moved ones from a live server, the others from the same server
    // as before. A call made while its client reconnects waits for the new connection (up to
    // connectTimeout, and within its own timeout).
    const after: number[] = await Promise.all(clients.map((rpc) => ask(rpc).whoami()));
    const livePorts = live.map((server) => server.addr.port);
    after.forEach((port, i) => {
      assert.ok(livePorts.includes(port), `client ${i} answered by ${port}, not a live server`);
      if (before[i] !== dead) assert.equal(port, before[i], `client ${i} moved needlessly`);
    });
    assert.deepEqual(
      await Promise.all(clients.map((rpc, i) => ask(rpc).add(i, 200))),
      clients.map((_, i) => i + 200),
    );
    // A new client goes to a live server too.
    const late = await AsyncRPC.connect(url);
    clients.push(late);
    assert.ok(livePorts.includes(await ask(late).whoami()));
    passed = true;
  } finally {
    await Promise.allSettled(clients.map((rpc) => rpc.close()));
    if (haproxy) {
      haproxy.kill();
      await haproxy.stdin.close().catch(() => {});
      await haproxy.status;
      const log = await haproxyLog;
      if (!passed) console.error(`HAProxy's log:\n${log}`);
    }
    await Promise.allSettled(servers.map((server) => server.close()));
    if (config) await removeFile(config);
  }
});
