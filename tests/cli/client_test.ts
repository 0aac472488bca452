/**
 * The client commands (src/cli/client.ts) run as processes against our server and against the
 * Python peer (tests/interop/python/peer.py): what they print, and their exit statuses.
 */
import assert from "node:assert/strict";
import { makeTempFile, removeFile, spawn, test, writeTextFile } from "../test_platform.deno.ts";
import { callContext, type Server } from "../../mod.ts";
import { main } from "../../cli.ts";
import { deferred, makeCertificates, startServer, urlOf, within } from "../helpers.ts";
import { PYTHON } from "../interop/python.ts";
import { runCli, startCli } from "./run_cli.ts";

const PEER = new URL("../interop/python/peer.py", import.meta.url).pathname;

function api(server: Server, stream?: { next: Promise<void>; ended: () => void }) {
  server.registerIntrospectionFunctions();
  server.registerFunction(function pack(a: unknown, b: unknown, c: unknown) {
    return [a, b, c];
  }, { help: "Its arguments, as a list." });
  server.registerFunction(function boom() {
    throw new SyntaxError("bad thing");
  });
  server.registerFunction(async function* items() {
    try {
      yield 1;
      await stream?.next;
      yield { two: 2 };
      // Then nothing more, until the call is cancelled.
      const { signal } = callContext();
      await new Promise((resolve) => signal.addEventListener("abort", resolve));
    } finally {
      stream?.ended();
    }
  });
}

test("cli call: ARGs are JSON, else strings; --kwargs; the result is one JSON line, bytes as $bytes", async () => {
  await using server = await startServer({}, api);
  const kwargs = JSON.stringify({ c: { $bytes: "AQID" } });
  const out = await runCli(["call", urlOf(server), "pack", "[1, 2]", "hello", "--kwargs", kwargs]);
  assert.deepEqual(out, {
    code: 0,
    stdout: '[[1,2],"hello",{"$bytes":"AQID"}]\n',
    stderr: "",
  });
});

test("cli call: a stream prints each item as it arrives; a signal cancels the call and exits 130", async () => {
  const next = deferred();
  const ended = deferred();
  await using server = await startServer(
    {},
    (s) => api(s, { next: next.promise, ended: ended.resolve }),
  );
  await using cli = startCli(["call", urlOf(server), "items"]);
  assert.equal(await within(cli.line(), 20_000, "the first item"), "1");
  next.resolve(); // the second item exists only once the first was printed
  assert.equal(await within(cli.line(), 5_000, "the second item"), '{"two":2}');
  assert.equal(await cli.kill("SIGTERM"), 130);
  await within(ended.promise, 5_000, "the call's cancellation on the server");
});

test("cli call: an error prints its code, class and message: 1 for the call, 3 without a connection", async () => {
  await using server = await startServer({}, api);
  const failed = await runCli(["call", urlOf(server), "boom"]);
  assert.deepEqual(failed, { code: 1, stdout: "", stderr: "error 404 SyntaxError: bad thing\n" });
  const refused = await runCli(["call", urlOf(server, "admin:wrong"), "boom"]);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /^error 501 LoginError: /);
});

test("cli client flags: --debug and --compression as the server runs; --tls-ca for a tls:// server", async () => {
  {
    await using server = await startServer({ debug: true, compression: "zlib" }, api);
    const out = await runCli([
      "call",
      urlOf(server),
      "pack",
      "1",
      "2",
      "3",
      "--debug",
      "--compression=zlib",
    ]);
    assert.deepEqual(out, { code: 0, stdout: "[1,2,3]\n", stderr: "" });
  }
  const { ca, server: pem } = await makeCertificates();
  const caFile = await makeTempFile();
  try {
    await writeTextFile(caFile, ca);
    await using server = await startServer({ tls: pem }, api);
    const url = `tls://admin:admin@localhost:${server.addr.port}`;
    const trusted = await runCli(["call", url, "pack", "1", "2", "3", "--tls-ca", caFile.pathname]);
    assert.deepEqual(trusted, { code: 0, stdout: "[1,2,3]\n", stderr: "" });
    const untrusted = await runCli(["call", url, "pack"]);
    assert.equal(untrusted.code, 3);
    assert.match(untrusted.stderr, /^error 503 RpcUnavailableException: .*TLS: its certificate/);
  } finally {
    await removeFile(caFile);
  }
});

test("cli list and describe: the methods, one per line; a signature and its help", async () => {
  await using server = await startServer({}, api);
  const listed = await runCli(["list", urlOf(server)]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(listed.stdout.split("\n").slice(0, 3), ["boom", "items", "pack"]);
  const described = await runCli(["describe", urlOf(server), "pack"]);
  assert.deepEqual(described, {
    code: 0,
    stdout: "pack(a, b, c)\n\nIts arguments, as a list.\n",
    stderr: "",
  });
});

test("cli ping: a line per pong, then min/avg/max", async () => {
  await using server = await startServer({}, api);
  const out = await runCli(["ping", urlOf(server), "--count", "2", "--interval", "0.01"]);
  assert.equal(out.code, 0, out.stderr);
  const pong = String.raw`pong from 127\.0\.0\.1:${server.addr.port}: \d+\.\d+ ms\n`;
  assert.match(out.stdout, new RegExp(`^${pong}${pong}2 pongs: min/avg/max [\\d./]+ ms\\n$`));
});

test("cli: usage errors exit 2 with the error and the synopsis on stderr", async () => {
  const [log, error] = [console.log, console.error];
  const printed: string[] = [];
  console.log = console.error = (text: string) => void printed.push(text);
  try {
    const url = "tcp://admin:admin@127.0.0.1:1";
    assert.equal(await main(["call", url]), 2);
    assert.match(
      printed.pop()!,
      /^expected URL METHOD \[ARG\.\.\.\], got 1 argument\(s\)\nusage: mprpc call/,
    );
    assert.equal(await main(["call", url, "m", "--colour", "red"]), 2);
    assert.match(printed.pop()!, /^unknown flag --colour\n/);
    assert.equal(await main(["call", url, "m", "--kwargs", "[1]"]), 2);
    assert.match(printed.pop()!, /^--kwargs takes a JSON object/);
    assert.equal(await main(["ping", url, "--count", "x"]), 2);
    assert.match(printed.pop()!, /^--count takes a number/);
    assert.equal(await main(["list", "http://example.com"]), 2);
    assert.match(printed.pop()!, /is not an address like tcp:\/\/user:pass@host:port/);
    assert.equal(await main(["call", url, "m", "--help"]), 0);
    assert.match(printed.pop()!, /^usage: mprpc call URL METHOD/);
  } finally {
    [console.log, console.error] = [log, error];
  }
});

test("cli: call, list, describe and ping work against the Python peer", async () => {
  const peer = spawn(PYTHON, [PEER, "server"]);
  const reader = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const url = `tcp://admin:admin@127.0.0.1:${Number((await reader.read()).value)}`;
    const [called, streamed, failed, listed, described, pinged] = await Promise.all([
      runCli(["call", url, "testfunc", "--kwargs", '{"a": 1, "b": 2}']),
      runCli(["call", url, "testcorogen", "1", "2"]),
      runCli(["call", url, "fails"]),
      runCli(["list", url]),
      runCli(["describe", url, "testfunc"]),
      runCli(["ping", url, "--count", "1"]),
    ]);
    assert.deepEqual(called, { code: 0, stdout: "3\n", stderr: "" });
    assert.deepEqual(streamed, { code: 0, stdout: "3\n4\n5\n", stderr: "" });
    assert.deepEqual(failed, {
      code: 1,
      stdout: "",
      stderr: "error 404 ZeroDivisionError: division by zero\n",
    });
    assert.ok(listed.stdout.split("\n").includes("testcorogen"), listed.stdout);
    assert.equal(described.stdout, "testfunc(a, b)\n\nAdds a and b.\n");
    assert.match(pinged.stdout, /^pong from 127\.0\.0\.1:\d+: \d+\.\d+ ms\n1 pongs: /);
  } finally {
    await peer.stdin.close();
    await reader.cancel();
    await peer.status;
  }
});
