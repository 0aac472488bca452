/** The command line's options (cli.ts): flags, environment, and clear refusals. */
import assert from "node:assert/strict";
import { makeTempFile, removeFile, test, writeTextFile } from "../test_platform.deno.ts";
import { brokerOptions } from "../../src/cli/broker.ts";
import { AsyncRPC } from "../../mod.ts";
import { makeCertificates, ScriptProcess, within } from "../helpers.ts";

test("cli: broker options come from flags, else the environment", () => {
  assert.deepEqual(
    brokerOptions(["--port", "7100", "--auth", "a:b", "--auth", "c:d:e"], {
      MPRPC_BROKER_SECRET: "s",
      MPRPC_BROKER_PORT: "1",
      MPRPC_BROKER_HOSTNAME: "0.0.0.0",
      MPRPC_BROKER_METRICS_PORT: "9465",
    }),
    {
      hostname: "0.0.0.0",
      port: 7100,
      auth: [["a", "b"], ["c", "d:e"]],
      secret: "s",
      reportInterval: undefined,
      maxConnections: undefined,
      metricsPort: 9465,
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

test("cli: TLS files come from --tls-cert/--tls-key/--tls-ca, else the environment; both or none", async () => {
  const cert = await makeTempFile();
  const key = await makeTempFile();
  try {
    await writeTextFile(cert, "CERT");
    await writeTextFile(key, "KEY");
    const env = { MPRPC_BROKER_SECRET: "s", MPRPC_BROKER_TLS_KEY: key.pathname };
    assert.deepEqual(brokerOptions(["--tls-cert", cert.pathname], env).tls, {
      cert: "CERT",
      key: "KEY",
    });
    assert.equal(brokerOptions([], { MPRPC_BROKER_SECRET: "s" }).tls, undefined);
    assert.throws(
      () => brokerOptions(["--tls-cert", cert.pathname], { MPRPC_BROKER_SECRET: "s" }),
      /TLS needs both --tls-cert and --tls-key/,
    );
    assert.throws(
      () => brokerOptions(["--tls-ca", "/nonexistent/ca.pem", "--tls-cert", cert.pathname], env),
      /--tls-ca: cannot read \/nonexistent\/ca\.pem/,
    );
  } finally {
    await removeFile(cert);
    await removeFile(key);
  }
});

test("cli: `broker` runs as a program, and listens with TLS given a certificate and key", async () => {
  const { ca, server: pem } = await makeCertificates();
  const cert = await makeTempFile();
  const key = await makeTempFile();
  try {
    await writeTextFile(cert, pem.cert);
    await writeTextFile(key, pem.key);
    const args = ["broker", "--port", "0", "--tls-cert", cert.pathname, "--tls-key", key.pathname];
    await using broker = new ScriptProcess(
      new URL("../../cli.ts", import.meta.url),
      { MPRPC_BROKER_SECRET: "s" },
      args,
    );
    const line = await within(broker.line(), 20_000, "the broker did not start");
    const port = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line)?.[1];
    assert.ok(port, line);
    await using rpc = await AsyncRPC.connect(`tls://admin:admin@localhost:${port}`, {
      tls: { ca },
      reconnect: false,
    });
    assert.deepEqual(await rpc.call("broker.members"), []);
  } finally {
    await removeFile(cert);
    await removeFile(key);
  }
});
