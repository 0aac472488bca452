/**
 * Payloads that hold the terminator, read whole on a 0.1 connection: a frame that decodes as cut
 * short is joined with the next ones (src/wire/terminator.ts), found by the scanners in
 * src/wire/codec.ts.
 */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { ProtocolException } from "../../mod.ts";
import {
  bzip2Ends,
  Codec,
  JsonScanner,
  MessageDecoder,
  MsgpackScanner,
  xzEnds,
} from "../../src/wire/codec.ts";
import { FrameSplitter, isTerminated } from "../../src/wire/frame_splitter.ts";
import {
  INVALID,
  MAX_JOIN_TRIES,
  type MessageScanner,
  NEED_MORE,
} from "../../src/wire/terminator.ts";
import type { Compression } from "../../src/protocol/messages.ts";
import { encode, fc } from "../test_deps.ts";
import { concat, indexOf, TERM } from "../helpers.ts";
import { countTerminators as terminators, CUT_STRINGS, storedZlib } from "./cut_payloads.ts";

const text = new TextEncoder();
const bytes = (s: string) => text.encode(s);

/** The messages and sizes `chunks` decode to, through the splitter and the decoder. */
async function read(codec: Codec, chunks: Uint8Array[], options: { maxMessageSize?: number } = {}) {
  const messages: unknown[] = [];
  const sizes: number[] = [];
  const batches = ReadableStream.from(chunks)
    .pipeThrough(new FrameSplitter(options))
    .pipeThrough(new MessageDecoder(codec));
  for await (const batch of batches) messages.push(...batch.messages), sizes.push(...batch.sizes);
  return { messages, sizes };
}

const framed = (payloads: Uint8Array[]) => concat(payloads.flatMap((p) => [p, TERM]));

const call = (id: string, arg: unknown) => ({
  MPRPC: "0.1",
  ID: id,
  METHOD: "measure",
  RETURN: true,
  ARGS: [arg],
});

// ---------------------------------------------------------------- scanners

function scanInPieces(scanner: MessageScanner, payload: Uint8Array, cuts: number[]): number {
  let result = NEED_MORE;
  for (const cut of [...cuts, payload.length]) {
    assert.equal(result, NEED_MORE, "no end before the last piece");
    result = scanner.scan(payload, cut);
  }
  return result;
}

test("MsgpackScanner: finds the end of any value, read whole or in pieces", () => {
  fc.assert(
    fc.property(
      fc.anything({ withNullPrototype: false, withBigInt: false, withTypedArray: false }),
      fc.array(fc.nat()),
      (value, rawCuts) => {
        const payload = encode(value);
        const withNext = concat([payload, TERM]);
        assert.equal(new MsgpackScanner().scan(withNext, withNext.length), payload.length);
        const cuts = rawCuts.map((c) => c % payload.length).sort((a, b) => a - b);
        assert.equal(scanInPieces(new MsgpackScanner(), payload, cuts), payload.length);
        for (let end = 0; end < payload.length; end++) {
          assert.equal(new MsgpackScanner().scan(payload, end), NEED_MORE, `prefix of ${end}`);
        }
      },
    ),
  );
});

test("MsgpackScanner: every type byte, and 0xc1 is invalid", () => {
  const values: unknown[] = [
    null,
    true,
    -1,
    -33,
    200,
    70_000,
    2 ** 40,
    -(2 ** 40),
    1.5,
    "x".repeat(40),
    "x".repeat(300),
    "x".repeat(70_000),
    new Uint8Array(300),
    new Uint8Array(70_000),
    new Array(20).fill(1),
    new Array(70_000).fill(0),
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    new Date(0),
    new Date(2 ** 40 * 1000),
    [[], {}, [[[1]]]],
  ];
  for (const value of values) {
    const payload = encode(value);
    assert.equal(new MsgpackScanner().scan(payload, payload.length), payload.length);
  }
  assert.equal(new MsgpackScanner().scan(new Uint8Array([0x91, 0xc1]), 2), INVALID);
});

test("JsonScanner: finds the end of any JSON text, read whole or in pieces", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.array(fc.nat()), fc.boolean(), (value, rawCuts, spaced) => {
      const json = spaced ? ` ${JSON.stringify(value, null, 1)} \n` : JSON.stringify(value);
      const payload = bytes(json);
      const withNext = concat([payload, TERM]);
      assert.equal(new JsonScanner().scan(withNext, withNext.length), payload.length);
      // (A whole value is known to end at the end of the bytes given: cut before its end.)
      const valueEnd = json.trimEnd().length;
      const cuts = rawCuts.map((c) => c % valueEnd).sort((a, b) => a - b);
      assert.equal(scanInPieces(new JsonScanner(), withNext, cuts), payload.length);
    }),
  );
});

test("JsonScanner: a terminator outside a string is invalid at once", () => {
  const invalid = ['{"a": 1', '{"a"', "{", "[1,", '{"a":tru', "-", "1.", "1e", '["\\u00', '["\\'];
  for (const bad of invalid) {
    const payload = concat([bytes(bad), TERM]);
    assert.equal(new JsonScanner().scan(payload, payload.length), INVALID, bad);
  }
  for (const cut of ['{"a": "x', '["', '{"', '{"a":"\\n']) {
    const payload = concat([bytes(cut), TERM]);
    assert.equal(new JsonScanner().scan(payload, payload.length), NEED_MORE, cut);
  }
});

test("bzip2Ends and xzEnds: whole streams end so, cut ones do not", async () => {
  const value = {
    MPRPC: "0.1",
    X: "data ".repeat(200),
    R: crypto.getRandomValues(new Uint8Array(500)),
  };
  for (const [compression, ends] of [["bz2", bzip2Ends], ["lzma", xzEnds]] as const) {
    const codec = await Codec.create({ compression });
    const payload = await codec.encode(value as never);
    assert.ok(ends(payload), `a whole ${compression} stream`);
    for (let end = 0; end < payload.length; end++) {
      assert.equal(ends(payload.subarray(0, end)), false, `${compression} cut at ${end}`);
    }
  }
  // Python's bz2 of nothing, byte-aligned; and an .xz with stream padding.
  const empty = [0x42, 0x5a, 0x68, 0x39, 0x17, 0x72, 0x45, 0x38, 0x50, 0x90, 0, 0, 0, 0];
  assert.ok(bzip2Ends(Uint8Array.from(empty)));
  const xz = await (await Codec.create({ compression: "lzma" })).encode({ MPRPC: "0.1" });
  assert.ok(xzEnds(concat([xz, new Uint8Array(8)])));
});

// ---------------------------------------------------------------- through the decoder

for (const debug of [false, true]) {
  const format = debug ? "JSON" : "MessagePack";

  test(`cut frames (${format}): terminators inside strings, split at every offset`, async () => {
    const codec = await Codec.create({ debug });
    const payloads = CUT_STRINGS.map((s, i) =>
      (codec.encode(call(`c${i}`, s)) as Uint8Array).slice()
    );
    const plain = (codec.encode(call("plain", "no terminator")) as Uint8Array).slice();
    const all = [plain, ...payloads, plain];
    const wire = framed(all);
    const expected = all.map((p) => codec.decode(p));
    for (let cut = 0; cut <= wire.length; cut += 1) {
      const got = await read(codec, [wire.subarray(0, cut), wire.subarray(cut)]);
      assert.deepEqual(got.messages, expected, `cut at ${cut}`);
      assert.deepEqual(got.sizes, all.map((p) => p.length), `sizes, cut at ${cut}`);
    }
  });

  test(`cut frames (${format}): one byte per read`, async () => {
    const codec = await Codec.create({ debug });
    const payloads = CUT_STRINGS.map((s, i) =>
      (codec.encode(call(`c${i}`, s)) as Uint8Array).slice()
    );
    const wire = framed(payloads);
    const got = await read(codec, [...wire].map((b) => new Uint8Array([b])));
    assert.deepEqual(got.messages, payloads.map((p) => codec.decode(p)));
  });

  test(`cut frames (${format}): a message ending like a terminator is read at once`, async () => {
    // In MessagePack, its own terminator overlaps the one the splitter found:
    // "…##PRO-END##PRO-END##". The rest of it is checked when the next frame comes.
    const codec = await Codec.create({ debug });
    const message = { MPRPC: "0.1", Z: ["x##PRO-END"] };
    const splitter = new FrameSplitter();
    const writer = splitter.writable.getWriter();
    const reader = splitter.readable.pipeThrough(new MessageDecoder(codec)).getReader();
    writer.write(framed([codec.encode(message) as Uint8Array]));
    assert.deepEqual((await reader.read()).value?.messages, [message]);
    writer.write(framed([codec.encode({ MPRPC: "0.1", N: 1 }) as Uint8Array]));
    assert.deepEqual((await reader.read()).value?.messages, [{ MPRPC: "0.1", N: 1 }]);
    await writer.close();
  });

  test(`cut frames (${format}): garbage still errors at once`, async () => {
    const codec = await Codec.create({ debug });
    const after = framed([codec.encode({ MPRPC: "0.1" }) as Uint8Array]);
    const garbage = debug
      ? ["{nope", '{"a": 1', "[1,", '{"a":"x"} extra', "\u00ff"]
      : ["\xc1", "\x92\x01", "\x81\xa1a", "\xa5abc"];
    for (const g of garbage) {
      const payload = debug ? bytes(g) : Uint8Array.from(g, (c) => c.charCodeAt(0));
      await assert.rejects(
        read(codec, [concat([payload, TERM]), after]),
        (err: Error) => err instanceof ProtocolException && /not valid/.test(err.message),
        JSON.stringify(g),
      );
    }
  });

  test(`cut frames (${format}): a message cut without end is refused past maxMessageSize`, async () => {
    const codec = await Codec.create({ debug, maxMessageSize: 1000 });
    const start = debug
      ? bytes('{"MPRPC":"0.1","X":"')
      : new Uint8Array([0x81, 0xa1, 0x58, 0xdb, 0, 1, 0, 0]);
    const piece = bytes("x".repeat(50) + "##PRO-END##");
    const chunks = [start, ...Array.from({ length: 40 }, () => piece)];
    await assert.rejects(
      read(codec, chunks, { maxMessageSize: 1000 }),
      (err: Error) => err instanceof ProtocolException && /1000-byte limit/.test(err.message),
    );
    // The same message, ended, is read when it fits.
    const message = { MPRPC: "0.1", X: "x##PRO-END##".repeat(80) };
    const payload = codec.encode(message) as Uint8Array;
    assert.ok(payload.length <= 1000);
    assert.deepEqual((await read(codec, [framed([payload])], { maxMessageSize: 1000 })).messages, [
      message,
    ]);
    const smaller = await Codec.create({ debug, maxMessageSize: payload.length - 1 });
    await assert.rejects(
      read(smaller, [framed([payload])], { maxMessageSize: payload.length - 1 }),
      ProtocolException,
    );
  });
}

test("cut frames: many pieces cost linear time, not quadratic", async () => {
  // 100 000 terminators in one 1.6 MB message: each piece is read once.
  const codec = await Codec.create();
  const message = { MPRPC: "0.1", X: ["##PRO-END##abcd".repeat(100_000), new Uint8Array(10)] };
  const payload = codec.encode(message) as Uint8Array;
  const started = performance.now();
  const got = await read(codec, [framed([payload])]);
  const ms = performance.now() - started;
  assert.deepEqual(got.messages, [message]);
  assert.ok(ms < 2000, `${ms} ms`);
});

test("cut frames: binary data and a map key holding the terminator", async () => {
  const codec = await Codec.create();
  const blob = crypto.getRandomValues(new Uint8Array(5000));
  for (const at of [0, 17, 4989]) blob.set(TERM, at);
  const message = {
    MPRPC: "0.1",
    "k##PRO-END##": [blob, 35, 35, 80, 82, 79, 45, 69, 78, 68, 35, 35],
  };
  const payload = codec.encode(message) as Uint8Array;
  assert.ok(terminators(payload) >= 4);
  const got = await read(codec, [framed([payload, payload])]);
  assert.deepEqual(got.messages, [message, message]);
});

test("isTerminated: the splitter marks the batches it split on terminators, not len32 ones", async () => {
  const splitter = new FrameSplitter();
  const writer = splitter.writable.getWriter();
  const reader = splitter.readable.getReader();
  writer.write(bytes("a##PRO-END##\0\0"));
  assert.equal(isTerminated((await reader.read()).value!), true);
  splitter.useLength32(); // the two bytes buffered are re-read as the start of a length
  writer.write(new Uint8Array([0, 1, 0x41]));
  assert.equal(isTerminated((await reader.read()).value!), false);
  assert.equal(isTerminated([bytes("x")]), false, "nor any other batch");
  await writer.close();
});

test("cut frames: len32 batches are never joined", async () => {
  const codec = await Codec.create();
  const splitter = new FrameSplitter();
  splitter.useLength32();
  const cut = encode({ MPRPC: "0.1", X: "a##PRO-END##b" }).subarray(0, 10);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, cut.length);
  const batches = ReadableStream.from([concat([header, cut])]).pipeThrough(splitter)
    .pipeThrough(new MessageDecoder(codec));
  await assert.rejects(
    (async () => {
      for await (const _ of batches) { /* drain */ }
    })(),
    ProtocolException,
  );
});

test("cut frames: a message cut before the switch to len32 errors", async () => {
  const codec = await Codec.create();
  const splitter = new FrameSplitter();
  const writer = splitter.writable.getWriter();
  const reader = splitter.readable.pipeThrough(new MessageDecoder(codec)).getReader();
  const payload = encode({ MPRPC: "0.1", X: "a##PRO-END##b" });
  const auth = encode({ MPRPC: "0.1", AUTH: {} });
  // The payload up to and with the terminator inside it: a message cut short.
  const cut = payload.subarray(0, indexOf(payload, TERM) + TERM.length);
  writer.write(concat([auth, TERM, cut])).catch(() => {});
  assert.deepEqual((await reader.read()).value?.messages, [{ MPRPC: "0.1", AUTH: {} }]);
  splitter.useLength32();
  const header = new Uint8Array([0, 0, 0, 1]);
  writer.write(concat([header, new Uint8Array([0xc0])])).catch(() => {});
  await assert.rejects(reader.read(), ProtocolException);
});

// ---------------------------------------------------------------- compressed

async function compressedCut(compression: Compression, message: Record<string, unknown>) {
  const codec = await Codec.create({ compression });
  if (compression === "zlib") return { codec, payload: storedZlib(encode(message)) };
  return { codec, payload: await codec.encode(message as never) };
}

for (const compression of ["zlib", "lzma"] as const) {
  test(`cut frames (${compression}): a compressed payload holding the terminator is read whole`, async () => {
    const blob = crypto.getRandomValues(new Uint8Array(3000));
    for (const at of [0, 1000, 2989]) blob.set(TERM, at);
    const message = { MPRPC: "0.1", ID: "x", ARGS: [blob, "a##PRO-END##b"] };
    const { codec, payload } = await compressedCut(compression, message);
    assert.ok(terminators(payload) >= 3, "the compressed bytes hold terminators");
    const plain = await codec.encode({ MPRPC: "0.1", N: 1 });
    const wire = framed([payload, plain, payload]);
    for (const cut of [0, 1, 500, 1005, wire.length - 20, wire.length]) {
      const got = await read(codec, [wire.subarray(0, cut), wire.subarray(cut)]);
      assert.deepEqual(got.messages, [message, { MPRPC: "0.1", N: 1 }, message], `cut at ${cut}`);
      assert.deepEqual(got.sizes, [payload.length, plain.length, payload.length]);
    }
  });
}

for (const compression of ["zlib", "bz2", "lzma"] as const) {
  test(`cut frames (${compression}): garbage still errors at once`, async () => {
    const codec = await Codec.create({ compression });
    const after = framed([await codec.encode({ MPRPC: "0.1" })]);
    await assert.rejects(
      read(codec, [framed([new Uint8Array([1, 2, 3, 4])]), after]),
      ProtocolException,
    );
    // A whole stream, corrupted in the middle: not cut short, so an error.
    const payload = await codec.encode({ MPRPC: "0.1", X: "data ".repeat(100) });
    const corrupt = payload.slice();
    for (let i = 20; i < 30; i++) corrupt[i] ^= 0x55;
    await assert.rejects(read(codec, [framed([corrupt]), after]), ProtocolException);
  });

  test(`cut frames (${compression}): a stream cut short is told apart`, async () => {
    const codec = await Codec.create({ compression });
    const payload = await codec.encode(
      { MPRPC: "0.1", X: crypto.getRandomValues(new Uint8Array(2000)) } as never,
    );
    for (const end of [payload.length - 12, Math.floor(payload.length / 2), 20]) {
      const attempt = await codec.attempt(payload.subarray(0, end));
      assert.deepEqual(attempt, { cut: true }, `cut at ${end} of ${payload.length}`);
    }
  });
}

test("cut frames (zlib): a message cut without end is refused past maxMessageSize", async () => {
  const codec = await Codec.create({ compression: "zlib", maxMessageSize: 2000 });
  const blob = new Uint8Array(10_000).fill(1);
  for (let at = 0; at + TERM.length < blob.length; at += 500) blob.set(TERM, at);
  const payload = storedZlib(encode({ MPRPC: "0.1", X: blob }));
  await assert.rejects(
    read(codec, [framed([payload])], { maxMessageSize: 2000 }),
    (err: Error) => err instanceof ProtocolException && /2000-byte limit/.test(err.message),
  );
});

test(`cut frames (zlib): at most ${MAX_JOIN_TRIES} tries at one compressed message`, async () => {
  const codec = await Codec.create({ compression: "zlib" });
  const blob = new Uint8Array(2000).fill(1);
  for (let at = 0; at < 40 * 20; at += 20) blob.set(TERM, at);
  const payload = storedZlib(encode({ MPRPC: "0.1", X: blob }));
  await assert.rejects(
    read(codec, [framed([payload])]),
    (err: Error) => err instanceof ProtocolException && /more than 16 times/.test(err.message),
  );
  // Within the bound, it is read.
  const fewer = new Uint8Array(2000).fill(1);
  for (let at = 0; at < 10 * 20; at += 20) fewer.set(TERM, at);
  const ok = { MPRPC: "0.1", X: fewer };
  assert.deepEqual((await read(codec, [framed([storedZlib(encode(ok))])])).messages, [ok]);
});
