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
});
