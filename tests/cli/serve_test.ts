/** `mprpc serve MODULE` (src/cli/serve.ts): its options, and a module served by a real process. */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { AsyncRPC } from "../../mod.ts";
import { serveOptions } from "../../src/cli/serve.ts";
import { collect, within } from "../helpers.ts";
import { runCli, startCli } from "./run_cli.ts";

const HANDLERS = new URL("../fixtures/handlers.ts", import.meta.url);

test("cli serve: a module's functions, with introspection, in the pool, and metrics; SIGTERM closes it", async () => {
  await using serve = startCli([
    "serve",
    HANDLERS.pathname,
    "--port",
    "0",
    "--workers",
    "1",
    "--metrics-port",
    "0",
  ]);
  const line = await within(serve.line(), 20_000, "the server did not start");
  const port = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line)?.[1];
  assert.ok(port, line);
  const metricsLine = await serve.line();
  const metricsUrl = /^metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/.exec(metricsLine)?.[1];
  assert.ok(metricsUrl, metricsLine);
  const url = `tcp://admin:admin@127.0.0.1:${port}`;
  {
    await using rpc = await AsyncRPC.connect(url);
    assert.equal(await rpc.add(2, 3), 5);
    assert.equal(await rpc.busy(0), "worker");
    assert.deepEqual(await collect(await rpc.count(3)), [0, 1, 2]);
    assert.equal(await rpc.system.methodHelp("add"), "Adds two numbers.");
  }
  const scraped = await (await fetch(metricsUrl)).text();
  assert.match(scraped, /^mprpc_calls_total\{method="add",code="200"\} 1$/m);
  assert.deepEqual(await runCli(["call", url, "bytes"]), {
    code: 0,
    stdout: '{"$bytes":"AQIDBA=="}\n',
    stderr: "",
  });
  assert.equal(await serve.kill("SIGTERM"), 0);
});

test("cli serve: options from flags and the environment; bad ones refused clearly", () => {
  const { module, options, server } = serveOptions(
    {
      hostname: "0.0.0.0",
      port: "5100",
      executor: "inline",
      debug: true,
      compression: "zlib",
      broker: ["tcp://127.0.0.1:7000"],
      advertise: "tcp://10.0.0.5:5100",
    },
    ["api.ts"],
    { MPRPC_SERVE_AUTH: "app:pw,ops:pw2", MPRPC_BROKER_SECRET: "s" },
  );
  assert.equal(module.protocol, "file:");
  assert.ok(module.pathname.endsWith("/api.ts"));
  assert.deepEqual(options, { executor: "inline" });
  assert.deepEqual(server, {
    hostname: "0.0.0.0",
    port: 5100,
    auth: [["app", "pw"], ["ops", "pw2"]],
    debug: true,
    compression: "zlib",
    broker: { url: ["tcp://127.0.0.1:7000"], secret: "s", advertise: "tcp://10.0.0.5:5100" },
  });
  const refused: [Record<string, string | string[] | true>, RegExp][] = [
    [{ hostname: "::" }, /listening on :: needs --auth USER:PASS \(or MPRPC_SERVE_AUTH\)/],
    [{ executor: "threads" }, /--executor takes pool or inline/],
    [{ workers: "0" }, /--workers takes a number >= 1/],
    [{ broker: ["tcp://127.0.0.1:7000"] }, /--broker needs the secret/],
    [{ "tls-cert": "/nonexistent.pem" }, /TLS needs both --tls-cert and --tls-key/],
  ];
  for (const [flags, error] of refused) {
    assert.throws(() => serveOptions(flags, ["m.ts"], {}), error);
  }
  assert.throws(() => serveOptions({}, [], {}), /expected one MODULE/);
});
