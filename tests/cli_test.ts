/** The command line's options (cli.ts): flags, environment, and clear refusals. */
import assert from "node:assert/strict";
import { test } from "./test_platform.deno.ts";
import { brokerOptions } from "../cli.ts";

test("cli: broker options come from flags, else the environment", () => {
  assert.deepEqual(
    brokerOptions(["--port", "7100", "--auth", "a:b", "--auth", "c:d:e"], {
      MPRPC_BROKER_SECRET: "s",
      MPRPC_BROKER_PORT: "1",
      MPRPC_BROKER_HOSTNAME: "0.0.0.0",
    }),
    {
      hostname: "0.0.0.0",
      port: 7100,
      auth: [["a", "b"], ["c", "d:e"]],
      secret: "s",
      reportInterval: undefined,
      maxConnections: undefined,
    },
  );
  assert.deepEqual(
    brokerOptions([], {
      MPRPC_BROKER_SECRET: "s",
      MPRPC_BROKER_AUTH: "x:y,z:w",
      MPRPC_BROKER_REPORT_INTERVAL: "0.5",
    }).auth,
    [["x", "y"], ["z", "w"]],
  );
});

test("cli: bad broker options are refused clearly", () => {
  assert.throws(() => brokerOptions([], {}), /a secret is required/);
  assert.throws(() => brokerOptions(["--secret", "s", "--port", "x"], {}), /--port takes a number/);
  assert.throws(() => brokerOptions(["--secret", "s", "--auth", "nopass"], {}), /USER:PASS/);
  assert.throws(() => brokerOptions(["--secret", "s", "--colour"], {}), /colour/);
  assert.throws(
    () => brokerOptions(["--secret", "s", "--max-connections", "many"], {}),
    /--max-connections takes a number/,
  );
});

test("cli: --max-connections, else MPRPC_BROKER_MAX_CONNECTIONS", () => {
  assert.equal(
    brokerOptions(["--max-connections", "50"], { MPRPC_BROKER_SECRET: "s" }).maxConnections,
    50,
  );
  assert.equal(
    brokerOptions([], { MPRPC_BROKER_SECRET: "s", MPRPC_BROKER_MAX_CONNECTIONS: "7" })
      .maxConnections,
    7,
  );
});

test("cli: a non-loopback hostname needs --auth: the default admin:admin is refused there", () => {
  for (const env of [{ MPRPC_BROKER_HOSTNAME: "0.0.0.0" }, {}]) {
    const args = "MPRPC_BROKER_HOSTNAME" in env ? [] : ["--hostname", "::"];
    assert.throws(
      () => brokerOptions(args, { MPRPC_BROKER_SECRET: "s", ...env }),
      /listening on (0\.0\.0\.0|::) needs --auth USER:PASS \(or MPRPC_BROKER_AUTH\)/,
    );
  }
  assert.deepEqual(
    brokerOptions(["--hostname", "0.0.0.0", "--auth", "app:pw"], { MPRPC_BROKER_SECRET: "s" }).auth,
    [["app", "pw"]],
  );
  assert.equal(
    brokerOptions(["--hostname", "localhost"], { MPRPC_BROKER_SECRET: "s" }).hostname,
    "localhost",
  );
});
