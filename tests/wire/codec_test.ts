import assert from "node:assert/strict";
import { readFile, test } from "../test_platform.deno.ts";
import { ProtocolException } from "../../mod.ts";
import {
  callMessage,
  Codec,
  DecodedAnswer,
  MessageDecoder,
  type OutgoingCall,
} from "../../src/wire/codec.ts";
import { CallIds } from "../../src/wire/call_ids.ts";
import { type Compression, TERMINATOR } from "../../src/protocol/messages.ts";
import { runPython } from "../interop/python.ts";
import { collect, concat } from "../helpers.ts";
import { encode } from "../test_deps.ts";

const fixture = (name: string) => readFile(new URL(`../fixtures/${name}`, import.meta.url));

// What tests/fixtures/make_fixtures.py encoded with Python.
const PYTHON_MESSAGE = {
  MPRPC: "0.1",
  ID: "6f1c",
  METHOD: "testfunc",
  RETURN: true,
  ARGS: [1, "中文", new Uint8Array([0, 255])],
  KWARGS: { b: 2 },
};

const SAMPLE = {
  MPRPC: "0.1",
  CODE: 200,
  MESSAGE: { ID: "x", RESULT: ["é", 1.5, null, true, "data".repeat(50)] },
};

test("codec: decodes MessagePack written by Python's msgpack", async () => {
  const codec = await Codec.create();
  assert.deepEqual(codec.decode(await fixture("message.msgpack")), PYTHON_MESSAGE);
});

test("codec: debug mode decodes Python's json.dumps(ensure_ascii=False)", async () => {
  const codec = await Codec.create({ debug: true });
  assert.deepEqual(codec.decode(await fixture("message.json")), {
    ...PYTHON_MESSAGE,
    ARGS: [1, "中文"],
  });
});

test("codec: debug mode writes UTF-8 JSON with non-ASCII unescaped", async () => {
  const codec = await Codec.create({ debug: true });
  const payload = codec.encode({ MPRPC: "0.1", X: "中" }) as Uint8Array;
  assert.equal(new TextDecoder().decode(payload), '{"MPRPC":"0.1","X":"中"}');
});

const FILES: Record<Compression, string> = { zlib: "zlib", bz2: "bz2", lzma: "xz" };
const PY_MODULE: Record<Compression, string> = { zlib: "zlib", bz2: "bz2", lzma: "lzma" };

for (const compression of ["zlib", "bz2", "lzma"] as const) {
  test(`codec: ${compression} decodes what Python's ${PY_MODULE[compression]} compressed`, async () => {
    const codec = await Codec.create({ compression });
    assert.deepEqual(
      await codec.decode(await fixture(`message.msgpack.${FILES[compression]}`)),
      PYTHON_MESSAGE,
    );
  });

  test(`codec: Python's ${PY_MODULE[compression]} decompresses what ${compression} encodes`, async () => {
    const codec = await Codec.create({ compression });
    const payload = await codec.encode(SAMPLE);
    const printed = await runPython(
      [
        "-c",
        `import sys, json, msgpack, ${PY_MODULE[compression]} as m
print(json.dumps(msgpack.unpackb(m.decompress(sys.stdin.buffer.read())), ensure_ascii=False))`,
      ],
      payload,
    );
    assert.deepEqual(JSON.parse(printed), SAMPLE);
  });

  test(`codec: ${compression} refuses output past maxMessageSize (no decompression bomb)`, async () => {
    const big = await (await Codec.create({ compression })).encode({
      MPRPC: "0.1",
      X: "a".repeat(100_000),
    });
    const small = await Codec.create({ compression, maxMessageSize: 10_000 });
    await assert.rejects(Promise.resolve(small.decode(big)), ProtocolException);
  });

  test(`codec: ${compression} garbage is a ProtocolException`, async () => {
    const codec = await Codec.create({ compression });
    await assert.rejects(
      Promise.resolve(codec.decode(new Uint8Array([1, 2, 3, 4]))),
      ProtocolException,
    );
  });
}

test("codec: undecodable MessagePack and JSON are ProtocolExceptions", async () => {
  const msgpack = await Codec.create();
  assert.throws(() => msgpack.decode(new Uint8Array([0xc1])), ProtocolException);
  assert.throws(() => msgpack.decode(new Uint8Array([0x92, 0x01])), ProtocolException);
  const json = await Codec.create({ debug: true });
  assert.throws(() => json.decode(new TextEncoder().encode("{nope")), ProtocolException);
  assert.throws(() => json.decode(new Uint8Array([0x7b, 0xff])), ProtocolException);
});

test("MessageDecoder: decodes batches of payloads in order, batch for batch", async () => {
  const codec = await Codec.create({ compression: "zlib" });
  const payloads = await Promise.all([1, 2, 3].map((n) => codec.encode({ MPRPC: "0.1", N: n })));
  const batches = ReadableStream.from([payloads.slice(0, 2), payloads.slice(2)]);
  const out = [];
  for await (const batch of batches.pipeThrough(new MessageDecoder(codec))) out.push(batch);
  const message = (n: number) => ({ MPRPC: "0.1", N: n });
  const size = (i: number) => payloads[i].length;
  assert.deepEqual(out, [
    { messages: [message(1), message(2)], sizes: [size(0), size(1)] },
    { messages: [message(3)], sizes: [size(2)] },
  ]);
});

test("codec: an answer's head and its encoded MESSAGE are the bytes of the whole answer", async () => {
  const codec = await Codec.create();
  for (const code of [200, 201, 202, 206, 504]) {
    for (
      const body of [{ ID: "a" }, { ID: "é-1", RESULT: [1, { x: null }] }, {
        ID: "",
        RESULT: 2 ** 40,
      }]
    ) {
      const whole = (codec.encode({ MPRPC: "0.1", CODE: code, MESSAGE: body }) as Uint8Array)
        .slice();
      const head = codec.answerHead(code)!;
      assert.deepEqual(concat([head, codec.encode(body) as Uint8Array]), whole);
      assert.equal(head.indexOf(0x23), -1, "no '#' in a head");
    }
  }
  assert.equal((await Codec.create({ debug: true })).answerHead(200), undefined);
  assert.equal((await Codec.create({ compression: "zlib" })).answerHead(200), undefined);
});

test("codec: a call's parts are the bytes of the whole call message", async () => {
  const codec = await Codec.create();
  const idss = [new CallIds("a."), new CallIds("6f1c3a2e."), new CallIds(`${"x".repeat(199)}-`)];
  const keys = [0, 7, 123456789, Number.MAX_SAFE_INTEGER];
  const methods = ["add", "system.listMethods", "é", "m".repeat(40)];
  const argss = [[], [1, 2], ["##", { x: null }, new Uint8Array(3)], [2 ** 40, -1.5, undefined]];
  const kwargss = [{}, { b: 4 }, { a: [1], z: { y: "é" } }];
  const extras = [{}, { deadline: 1500 }, { credit: 4194304 }, { deadline: 0.5, credit: 64 }];
  for (const ids of idss) {
    for (const [key, method] of keys.flatMap((k) => methods.map((m) => [k, m] as const))) {
      for (const args of argss) {
        for (const kwargs of kwargss) {
          for (const extra of extras) {
            const call: OutgoingCall = { key, method, args, kwargs, ...extra };
            const whole = (codec.encode(callMessage(call, ids)) as Uint8Array).slice();
            const { head, value: a } = codec.encodeCall(call, ids)!;
            assert.deepEqual(concat([head, a]), whole);
            // What lets a connection check the parts one by one (see Connection.sendCall): no
            // terminator can straddle them.
            if (a.length > 0) assert.equal(TERMINATOR.indexOf(head.at(-1)!), -1);
          }
        }
      }
    }
  }
  // `KWARGS` only with keys, the extensions, and `ARGS` last.
  const ids = new CallIds("c.");
  assert.deepEqual(
    callMessage({ key: 1, method: "f", args: [1], kwargs: {}, deadline: 5, credit: 9 }, ids),
    { MPRPC: "0.1", ID: "c.1", METHOD: "f", RETURN: true, ARGS: [1], DEADLINE: 5, CREDIT: 9 },
  );
  const call = { key: 0, method: "f", args: [], kwargs: {} };
  assert.equal((await Codec.create({ debug: true })).encodeCall(call, ids), undefined);
});

test("codec: an answer to one of the connection's calls reads as the whole message decodes", async () => {
  const codec = await Codec.create();
  // IDs as fixstr and as str 8, on either side of the 32-byte line.
  const prefixes = ["6f1c3a2e.", `${"p".repeat(29)}.`, `${"q".repeat(199)}.`];
  const results = [
    3,
    0,
    127,
    128,
    -1,
    -32,
    -33,
    null,
    true,
    false,
    2 ** 40,
    1.5,
    "",
    "é".repeat(40),
    [1, [2]],
    { a: 1, RESULT: 2 },
    new Uint8Array([1, 2, 3]),
  ];
  const cases = prefixes.flatMap((prefix) =>
    [100, 200, 201, 202, 206, 300, 500, 599].flatMap((code) =>
      [0, 9, 10, 123456789, Number.MAX_SAFE_INTEGER].map((key) => [prefix, code, key] as const)
    )
  );
  for (const [prefix, code, key] of cases) {
    const ids = new CallIds(prefix);
    for (const RESULT of results) {
      const message = { MPRPC: "0.1", CODE: code, MESSAGE: { ID: ids.id(key), RESULT } };
      const payload = (codec.encode(message) as Uint8Array).slice();
      const answer = codec.decodeAnswer(payload, ids);
      assert.ok(answer instanceof DecodedAnswer, JSON.stringify(message));
      assert.deepEqual([answer.code, answer.key, answer.result], [code, key, RESULT]);
      // A payload cut short is never read as an answer: left to `decode`, or failing as it would.
      for (let n = 0; n < payload.length; n++) {
        const cut = payload.subarray(0, n);
        let read;
        try {
          read = codec.decodeAnswer(cut, ids);
        } catch (err) {
          assert.ok(err instanceof ProtocolException);
          assert.throws(() => codec.decode(cut), ProtocolException);
          continue;
        }
        assert.equal(read, undefined);
      }
    }
  }
  // Anything else is left to `decode`: other IDs, other shapes, other orders, other versions.
  const ids = new CallIds(prefixes[0]);
  const others = [
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: "other.1", RESULT: 1 } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: `${ids.prefix}9007199254740992`, RESULT: 1 } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: `${ids.prefix}01`, RESULT: 1 } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: `${ids.prefix}1x`, RESULT: 1 } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: ids.prefix, RESULT: 1 } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: `${ids.prefix}${"9".repeat(17)}`, RESULT: 1 } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: 1, RESULT: 1 } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { RESULT: 1, ID: ids.id(1) } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: ids.id(1), RESULT: 1, X: 2 } },
    { MPRPC: "0.1", CODE: 206, MESSAGE: { ID: ids.id(1) } },
    { MPRPC: "0.1", CODE: -1, MESSAGE: { ID: ids.id(1), RESULT: 1 } },
    { MPRPC: "0.2", CODE: 200, MESSAGE: { ID: ids.id(1), RESULT: 1 } },
    { CODE: 200, MPRPC: "0.1", MESSAGE: { ID: ids.id(1), RESULT: 1 } },
    { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: ids.id(1), RESULT: 1 }, X: 1 },
  ];
  for (const message of others) {
    const payload = (codec.encode(message) as Uint8Array).slice();
    assert.equal(codec.decodeAnswer(payload, ids), undefined, JSON.stringify(message));
  }
  const json = await Codec.create({ debug: true });
  const message = { MPRPC: "0.1", CODE: 200, MESSAGE: { ID: ids.id(1), RESULT: 1 } };
  assert.equal(json.decodeAnswer(json.encode(message) as Uint8Array, ids), undefined);
});

test("codec: a stream item's head and its encoded value are the bytes of the whole item", async () => {
  const codec = await Codec.create();
  for (const id of ["a", "é-1", "x".repeat(40)]) {
    const head = codec.itemHead(id)!;
    for (const value of [0, 35, "##", [1, { x: null }], new Uint8Array(3)]) {
      const message = { MPRPC: "0.1", CODE: 202, MESSAGE: { ID: id, RESULT: value } };
      const whole = (codec.encode(message) as Uint8Array).slice();
      assert.deepEqual(concat([head, codec.encode(value as never) as Uint8Array]), whole);
    }
  }
  assert.equal((await Codec.create({ debug: true })).itemHead("a"), undefined);
});

test("codec: an answer's parts are the bytes of the whole answer", async () => {
  const codec = await Codec.create();
  const ids = [
    "",
    "7f3a.42",
    "x".repeat(31),
    "y".repeat(32),
    "2b7e1516-28ae-4d2a-abf7-158809cf4f3c",
  ];
  const results = [null, true, false, 0, 127, 128, -32, -33, 1.5, "é", [1, "##"], { a: null }];
  for (const code of [200, 202]) {
    for (const ID of [...ids, "z".repeat(255)]) {
      for (const RESULT of results) {
        const whole =
          (codec.encode({ MPRPC: "0.1", CODE: code, MESSAGE: { ID, RESULT } }) as Uint8Array)
            .slice();
        const { head, value } = codec.encodeResult(code, ID, RESULT)!;
        assert.deepEqual(concat([head, value]), whole);
        assert.equal(TERMINATOR.indexOf(head.at(-1)!), -1); // nothing straddles the parts
      }
    }
  }
  // IDs written byte by byte are ASCII, of a length a str8 holds; others are left to `encode`.
  assert.equal(codec.encodeResult(200, "é", 1), undefined);
  assert.equal(codec.encodeResult(200, "z".repeat(256), 1), undefined);
  assert.equal((await Codec.create({ debug: true })).encodeResult(200, "1", 1), undefined);
});

test("MessageDecoder: a call over 1 MiB is weighed whole before it is decoded, as any message", async () => {
  // 1 MiB of empty arrays decodes to some 64 MiB: over the budget for a 1.5 MiB limit.
  const codec = await Codec.create({ maxMessageSize: 1.5 * 1024 * 1024 });
  const empties = new Uint8Array(5 + 1_048_560).fill(0x90);
  empties.set([0xdd, 0x00, 0x0f, 0xff, 0xf0]); // array 32 of 1,048,560 items
  const head = encode({ MPRPC: "0.1", ID: "1", METHOD: "f", RETURN: true });
  head[0] += 1; // one field more: ARGS, appended
  const payload = concat([head, encode("ARGS"), empties]);
  const batches = ReadableStream.from([[payload]]).pipeThrough(new MessageDecoder(codec));
  await assert.rejects(collect(batches), /would decode to about/);
});
