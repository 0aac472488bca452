/**
 * A 0.1 client (no `len32`) that sends payloads holding the terminator, over real sockets: the
 * server reads them whole (docs/protocol.md, "Transport and framing"), answers them, and still
 * refuses garbage as before.
 */
import assert from "node:assert/strict";
import { connectTcp, test } from "../test_platform.deno.ts";
import type { Compression, Server, ServerOptions } from "../../mod.ts";
import { Codec } from "../../src/wire/codec.ts";
import { concat, indexOf, startServer, TERM, WireClient } from "../helpers.ts";
import { encode } from "../test_deps.ts";
import {
  blobWithTerminators,
  countTerminators,
  CUT_STRINGS,
  storedZlib,
} from "../wire/cut_payloads.ts";

type Message = Record<string, unknown>;

// `measure` answers with what it was given, told apart from the terminators it holds: its
// length and their count. (An echo would hold the terminator, which a 0.1 client is refused.)
const methods = (server: Server) => {
  server.registerFunction(function measure(x: string | Uint8Array) {
    const bytes = typeof x === "string" ? new TextEncoder().encode(x) : x;
    return [x.length, countTerminators(bytes)];
  });
  server.registerFunction(function measureKeys(map: Record<string, unknown>) {
    return Object.keys(map).map((key) => [key.length, countTerminators(key)]);
  });
  server.registerFunction(function echo(x: unknown) {
    return x;
  });
  server.registerFunction(function testfunc(a: number, b: number) {
    return a + b;
  });
};

const expected = (x: string | Uint8Array) => [x.length, countTerminators(x)];
const body = (m: Message | undefined) => m?.MESSAGE as Message;

async function withClient(
  options: ServerOptions,
  run: (client: WireClient, server: Server) => Promise<void>,
): Promise<void> {
  await using server = await startServer(options, methods);
  const client = await WireClient.open(server.addr.port, { json: options.debug });
  try {
    assert.equal((await client.login())?.CODE, 100);
    await run(client, server);
  } finally {
    client.close();
  }
}

for (const debug of [false, true]) {
  const format = debug ? "JSON" : "MessagePack";

  test(`terminator in a 0.1 payload (${format}): each call is answered, one at a time`, async () => {
    await withClient({ debug }, async (client) => {
      for (const [i, s] of CUT_STRINGS.entries()) {
        await client.call(`s${i}`, "measure", [s]);
        assert.deepEqual(body(await client.next()), { ID: `s${i}`, RESULT: expected(s) }, s);
      }
      // The connection is still in step: an ordinary call.
      await client.call("t", "testfunc", [1, 2]);
      assert.deepEqual(body(await client.next()), { ID: "t", RESULT: 3 });
    });
  });

  test(`terminator in a 0.1 payload (${format}): pipelined in one write`, async () => {
    await withClient({ debug }, async (client) => {
      const frames = CUT_STRINGS.flatMap((s, i) => [
        client.callFrame(`s${i}`, "measure", [s]),
        client.callFrame(`p${i}`, "testfunc", [i, 1]),
      ]);
      await client.sendRaw(concat(frames));
      const answers = new Map<unknown, unknown>();
      for (let n = 0; n < frames.length; n++) {
        const answer = body(await client.next());
        answers.set(answer.ID, answer.RESULT);
      }
      for (const [i, s] of CUT_STRINGS.entries()) {
        assert.deepEqual(answers.get(`s${i}`), expected(s), s);
        assert.equal(answers.get(`p${i}`), i + 1);
      }
    });
  });

  test(`terminator in a 0.1 payload (${format}): a call sent in pieces, cut inside the terminator`, async () => {
    await withClient({ debug }, async (client) => {
      const s = "x##PRO-END##y##PRO-END##z";
      const frame = client.callFrame("c", "measure", [s]);
      const at = indexOf(frame, TERM);
      for (const [from, to] of [[0, at + 3], [at + 3, at + 11], [at + 11, frame.length - 2]]) {
        await client.sendRaw(frame.subarray(from, to));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await client.sendRaw(frame.subarray(frame.length - 2));
      assert.deepEqual(body(await client.next()), { ID: "c", RESULT: expected(s) });
    });
  });

  test(`terminator in a 0.1 payload (${format}): an answer holding it is still refused with 405`, async () => {
    await withClient({ debug }, async (client) => {
      await client.call("e", "echo", ["a##PRO-END##b"]);
      const answer = await client.next();
      assert.equal(answer?.CODE, 405);
      assert.equal(body(answer).ID, "e");
      await client.call("t", "testfunc", [2, 2]);
      assert.deepEqual(body(await client.next()), { ID: "t", RESULT: 4 });
    });
  });

  test(`terminator in a 0.1 payload (${format}): a message cut without end gets 505 at maxMessageSize`, async () => {
    await withClient({ debug, maxMessageSize: 4096 }, async (client, server) => {
      // A string that never ends, its pieces cut by terminators: read until 4096 bytes.
      const known = encode({ MPRPC: "0.1", ID: "x", METHOD: "measure" });
      const head = debug
        ? new TextEncoder().encode('{"MPRPC":"0.1","ID":"x","METHOD":"measure","ARGS":["')
        : concat([
          new Uint8Array([0x84]), // a map of four: the three above, and ARGS
          known.subarray(1),
          encode("ARGS"),
          new Uint8Array([0x91, 0xdb, 0, 1, 0, 0]), // [a 64 KiB string]
        ]);
      await client.sendRaw(head);
      const piece = new TextEncoder().encode("y".repeat(100) + "##PRO-END##");
      // Ignore a failed write: the server may have closed the connection by then.
      for (let i = 0; i < 40; i++) await client.sendRaw(piece).catch(() => {});
      assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 505 });
      assert.equal(await client.next(), undefined, "the connection is closed");
      // Another connection is served.
      const other = await WireClient.open(server.addr.port, { json: debug });
      try {
        await other.login();
        await other.call("t", "testfunc", [1, 1]);
        assert.deepEqual(body(await other.next()), { ID: "t", RESULT: 2 });
      } finally {
        other.close();
      }
    });
  });
}

test("terminator in a 0.1 payload: binary data and map keys holding it", async () => {
  await withClient({}, async (client) => {
    const blob = blobWithTerminators(5000, [0, 17, 4989]);
    await client.call("b", "measure", [blob]);
    assert.deepEqual(body(await client.next()), { ID: "b", RESULT: expected(blob) });
    // In a map key.
    await client.call("k", "measureKeys", [{ "x##PRO-END##": 1, "##PRO-END##": 2 }]);
    const keys = [expected("x##PRO-END##"), expected("##PRO-END##")];
    assert.deepEqual(body(await client.next()), { ID: "k", RESULT: keys });
    // A big one: 1 MiB with a terminator every 1000 bytes.
    const big = blobWithTerminators(1 << 20, Array.from({ length: 1000 }, (_, i) => i * 1000));
    await client.call("m", "measure", [big]);
    assert.deepEqual(body(await client.next()), { ID: "m", RESULT: expected(big) });
  });
});

test("terminator in a 0.1 payload: garbage still gets 505 (closed) or 506 (open) as before", async () => {
  const garbage: [string, Uint8Array, boolean][] = [
    ["undecodable", new Uint8Array([0xc1]), false],
    ["cut short, and not by a terminator", new Uint8Array([0x92, 0x01]), false],
    ["extra bytes", new Uint8Array([0x80, 0x80]), false],
    ["JSON cut outside a string", new TextEncoder().encode('{"a": 1'), true],
    ["JSON with bytes after it", new TextEncoder().encode('{"a": 1} x'), true],
  ];
  for (const [name, payload, debug] of garbage) {
    await withClient({ debug }, async (client) => {
      await client.sendRaw(concat([payload, TERM]));
      assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 505 }, name);
      assert.equal(await client.next(), undefined, name);
    });
  }
  await withClient({}, async (client) => {
    await client.send(["##PRO-END##"]);
    assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 506 }, "not a map");
    await client.call("t", "testfunc", [1, 1]);
    assert.deepEqual(body(await client.next()), { ID: "t", RESULT: 2 });
  });
});

test("terminator in a len32 payload: a frame cut short is not joined (505)", async () => {
  await using server = await startServer({}, methods);
  const client = await WireClient.open(server.addr.port);
  try {
    assert.deepEqual((await client.login("admin", "admin", ["len32"]))?.EXT, ["len32"]);
    client.length32 = true;
    await client.call("a", "measure", ["a##PRO-END##b"]);
    assert.deepEqual(body(await client.next()), { ID: "a", RESULT: expected("a##PRO-END##b") });
    const payload = encode({ MPRPC: "0.1", ID: "b", METHOD: "measure", ARGS: ["a##PRO-END##b"] });
    const cut = payload.subarray(0, indexOf(payload, TERM));
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, cut.length);
    await client.sendRaw(concat([header, cut]));
    assert.deepEqual(await client.next(), { MPRPC: "0.1", CODE: 505 });
  } finally {
    client.close();
  }
});

// ---------------------------------------------------------------- compressed

/** A raw 0.1 client of a compressed server: frames with terminators, payloads through `codec`. */
async function compressedClient(port: number, codec: Codec) {
  const conn = await connectTcp(port);
  let buffer: Uint8Array = new Uint8Array(0);
  return {
    send: (payload: Uint8Array) => conn.write(concat([payload, TERM])),
    async next(): Promise<Message | undefined> {
      while (true) {
        const at = indexOf(buffer, TERM);
        if (at !== -1) {
          const payload = buffer.slice(0, at);
          buffer = buffer.slice(at + TERM.length);
          return await codec.decode(payload) as Message;
        }
        const chunk = new Uint8Array(65536);
        const n = await conn.read(chunk);
        if (n === null) return undefined;
        buffer = concat([buffer, chunk.subarray(0, n)]);
      }
    },
    close: () => conn.close(),
  };
}

for (const compression of ["zlib", "bz2", "lzma"] as const satisfies Compression[]) {
  test(`terminator in a 0.1 payload (${compression}): each call is answered`, async () => {
    await using server = await startServer({ compression }, methods);
    const codec = await Codec.create({ compression });
    // zlib in stored blocks, as zlib writes incompressible data: the terminators show.
    const compress = async (message: Message) =>
      compression === "zlib" ? storedZlib(encode(message)) : await codec.encode(message as never);
    const client = await compressedClient(server.addr.port, codec);
    try {
      await client.send(
        await compress({ MPRPC: "0.1", AUTH: { USERNAME: "admin", PASSWORD: "admin" } }),
      );
      assert.equal((await client.next())?.CODE, 100);
      const blob = blobWithTerminators(3000, [0, 1000, 2989]);
      const args: [string, string | Uint8Array][] = [
        ...CUT_STRINGS.map((s, i) => [`s${i}`, s] as [string, string]),
        ["blob", blob],
      ];
      let cut = 0;
      for (const [id, arg] of args) {
        const payload = await compress({
          MPRPC: "0.1",
          ID: id,
          METHOD: "measure",
          RETURN: true,
          ARGS: [arg],
        });
        cut += countTerminators(payload);
        await client.send(payload);
        assert.deepEqual(body(await client.next()), { ID: id, RESULT: expected(arg) }, id);
      }
      if (compression !== "bz2") assert.ok(cut >= 3, "terminators in the compressed bytes");
    } finally {
      client.close();
    }
  });
}

test("terminator: an error whose text holds the terminator is still answered, the text scrubbed", async () => {
  await using server = await startServer({}, (server) => {
    server.registerFunction(function fails(text: string) {
      throw new Error(`bad input: ${text}`);
    });
  });
  const wire = await WireClient.open(server.addr.port);
  try {
    await wire.login();
    await wire.call("1", "fails", ["x##PRO-END##y"]);
    const answer = await wire.next();
    const body = answer?.MESSAGE as Record<string, unknown>;
    assert.equal(answer?.CODE, 404);
    assert.equal(body.ID, "1");
    assert.equal(body.MESSAGE, "bad input: x##PRO-END#\\#y");
  } finally {
    wire.close();
  }
});
