import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { ProtocolException, ResultLimitError } from "../../mod.ts";
import { FrameJoiner } from "../../src/wire/frame_joiner.ts";
import { FrameSplitter } from "../../src/wire/frame_splitter.ts";
import { assertFramable, indexOfTerminator } from "../../src/wire/terminator.ts";
import { TERM } from "../helpers.ts";
import { fc } from "../test_deps.ts";

const text = new TextEncoder();
const bytes = (s: string) => text.encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

async function split(chunks: Uint8Array[], maxMessageSize?: number): Promise<string[]> {
  const out: string[] = [];
  const batches = ReadableStream.from(chunks).pipeThrough(new FrameSplitter({ maxMessageSize }));
  for await (const batch of batches) {
    assert.ok(batch.length > 0, "no empty batches");
    out.push(...batch.map(str));
  }
  return out;
}

test("splitter: frames split at every byte offset come out whole", async () => {
  const wire = bytes("first##PRO-END##second message##PRO-END####PRO-END##x#y##PRO-END##");
  const expected = ["first", "second message", "", "x#y"];
  for (let cut = 0; cut <= wire.length; cut++) {
    assert.deepEqual(await split([wire.slice(0, cut), wire.slice(cut)]), expected, `cut at ${cut}`);
  }
});

test("splitter: every frame a chunk completes comes in one batch", async () => {
  const batches = [];
  const wire = bytes("a##PRO-END##b##PRO-END##c##PRO");
  for await (
    const batch of ReadableStream.from([wire, bytes("-END##")]).pipeThrough(new FrameSplitter())
  ) {
    batches.push(batch.map(str));
  }
  assert.deepEqual(batches, [["a", "b"], ["c"]]);
});

test("splitter: one byte per chunk", async () => {
  const wire = bytes("ab##PRO-END##c##PRO-END##");
  assert.deepEqual(await split([...wire].map((b) => new Uint8Array([b]))), ["ab", "c"]);
});

test("splitter: a near-terminator is payload, not a boundary", async () => {
  const wire = bytes("a##PRO-END#b##PRO-END##");
  assert.deepEqual(await split([wire.slice(0, 5), wire.slice(5)]), ["a##PRO-END#b"]);
});

test("splitter: bytes past maxMessageSize without a terminator error the stream", async () => {
  await assert.rejects(split([bytes("x".repeat(20))], 16), ProtocolException);
  await assert.rejects(
    split([bytes("x".repeat(10)), bytes("x".repeat(10))], 16),
    ProtocolException,
  );
  assert.deepEqual(await split([bytes("x".repeat(16) + "##PRO-END##")], 16), ["x".repeat(16)]);
  await assert.rejects(split([bytes("x".repeat(17) + "##PRO-END##")], 16), ProtocolException);
});

test("splitter: a straddling frame larger than the limit is refused", async () => {
  const wire = bytes("x".repeat(17) + "##PRO-END##");
  await assert.rejects(split([wire.slice(0, 20), wire.slice(20)], 18), ProtocolException);
});

test("indexOfTerminator finds the first terminator only when whole", () => {
  assert.equal(indexOfTerminator(bytes("##PRO-END")), -1);
  assert.equal(indexOfTerminator(bytes("a#b##PRO-END##")), 3);
  assert.equal(indexOfTerminator(bytes("##PRO-END####PRO-END##"), 1), 11);
  assert.equal(indexOfTerminator(bytes("x##PRO-END##PRO-END##")), 1); // two, overlapping
});

test("indexOfTerminator finds what a byte-by-byte search finds", () => {
  // Bytes mostly from the terminator's own, so that near misses and overlaps are common.
  const byte = fc.constantFrom(...bytes("##PRO-END##x\x00"));
  const naive = (data: Uint8Array, from: number) => {
    for (let i = from; i + TERM.length <= data.length; i++) {
      if (TERM.every((b, k) => data[i + k] === b)) return i;
    }
    return -1;
  };
  fc.assert(
    fc.property(
      fc.array(byte, { maxLength: 80, size: "max" }),
      fc.nat({ max: 24 }),
      fc.option(fc.nat({ max: 40 })),
      fc.option(fc.integer({ min: 9, max: 12 })),
      (values, from, at, gap) => {
        // A terminator put in, and maybe a second just after it, or overlapping it:
        // "##PRO-END##PRO-END##".
        const data = new Uint8Array(values);
        for (const start of at === null ? [] : gap === null ? [at] : [at, at + gap]) {
          if (start + TERM.length <= data.length) data.set(TERM, start);
        }
        assert.equal(indexOfTerminator(data, from), naive(data, from));
      },
    ),
    { numRuns: 3000 },
  );
});

test("assertFramable refuses a payload holding the terminator", () => {
  assert.throws(() => assertFramable(bytes("a##PRO-END##b")), ResultLimitError);
  assertFramable(bytes("a##PRO-END#b"));
});

test("joiner: frames pushed while a write is in flight come out as one buffer", () => {
  const joiner = new FrameJoiner();
  joiner.push(bytes("a"));
  assert.equal(str(joiner.takeQueued()!), "a##PRO-END##");
  joiner.push(bytes("b"));
  joiner.push(bytes("cd"));
  joiner.push(bytes("e"));
  assert.equal(str(joiner.takeQueued()!), "b##PRO-END##cd##PRO-END##e##PRO-END##");
  assert.equal(joiner.takeQueued(), undefined);
});

test("joiner: push asks the caller to wait while more than highWaterMark bytes are queued", async () => {
  const joiner = new FrameJoiner({ highWaterMark: 30 });
  assert.equal(joiner.push(new Uint8Array(10)), undefined);
  const wait = joiner.push(new Uint8Array(10));
  assert.ok(wait instanceof Promise);
  let drained = false;
  wait.then(() => drained = true);
  await Promise.resolve();
  assert.equal(drained, false);
  assert.equal(joiner.takeQueued()!.length, 2 * (10 + TERM.length));
  await wait;
  assert.equal(drained, true);
});

test("joiner: a small buffer the socket is done with takes the next frames; one still written never does", () => {
  const joiner = new FrameJoiner();
  joiner.push(bytes("a"));
  const first = joiner.takeQueued()!;
  joiner.push(bytes("b")); // the socket may still be reading `first`
  const second = joiner.takeQueued()!;
  assert.notEqual(second.buffer, first.buffer);
  assert.equal(str(first), "a##PRO-END##");
  joiner.written(first); // the end of an earlier write says nothing of `second`'s
  joiner.push(bytes("x"));
  const fourth = joiner.takeQueued()!;
  assert.notEqual(fourth.buffer, second.buffer);
  assert.equal(str(second), "b##PRO-END##");
  joiner.written(fourth); // the socket is done with the last one taken
  joiner.push(bytes("cd"));
  const third = joiner.takeQueued()!;
  assert.equal(third.buffer, fourth.buffer);
  assert.equal(str(third), "cd##PRO-END##");
  // A big write's buffer is not kept: an idle connection holds little.
  joiner.written(third);
  joiner.push(new Uint8Array(4096));
  const big = joiner.takeQueued()!;
  joiner.written(big);
  joiner.push(bytes("e"));
  const after = joiner.takeQueued()!;
  assert.notEqual(after.buffer, big.buffer);
  assert.equal(str(after), "e##PRO-END##");
});

function length32Frames(payloads: string[]): Uint8Array {
  const parts = payloads.flatMap((p) => {
    const body = bytes(p);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, body.length);
    return [...header, ...body];
  });
  return new Uint8Array(parts);
}

async function splitLength32(chunks: Uint8Array[], maxMessageSize?: number): Promise<string[]> {
  const splitter = new FrameSplitter({ maxMessageSize });
  splitter.useLength32();
  const out: string[] = [];
  for await (const batch of ReadableStream.from(chunks).pipeThrough(splitter)) {
    out.push(...batch.map(str));
  }
  return out;
}

test("len32: frames split at every pair of byte offsets come out whole", async () => {
  const expected = ["first", "", "x##PRO-END##y", "last one"];
  const wire = length32Frames(expected);
  for (let a = 0; a <= wire.length; a++) {
    for (let b = a; b <= wire.length; b += 3) {
      const chunks = [wire.slice(0, a), wire.slice(a, b), wire.slice(b)];
      assert.deepEqual(await splitLength32(chunks), expected, `cuts at ${a}, ${b}`);
    }
  }
});

test("len32: a length past maxMessageSize is refused from the header alone", async () => {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 1000);
  await assert.rejects(splitLength32([header], 999), ProtocolException);
});

test("len32: switching re-reads the bytes buffered after the last terminated frame", async () => {
  const splitter = new FrameSplitter();
  const writer = splitter.writable.getWriter();
  const reader = splitter.readable.getReader();
  const tail = length32Frames(["after"]);
  writer.write(new Uint8Array([...bytes("AUTH##PRO-END##"), ...tail.subarray(0, 3)]));
  assert.deepEqual((await reader.read()).value?.map(str), ["AUTH"]);
  splitter.useLength32();
  writer.write(tail.subarray(3));
  assert.deepEqual((await reader.read()).value?.map(str), ["after"]);
  await writer.close();
});

test("joiner: after useLength32, frames are length-prefixed; earlier ones keep the terminator", () => {
  const joiner = new FrameJoiner();
  joiner.push(bytes("reply"));
  joiner.useLength32();
  joiner.push(bytes("a##PRO-END##b"));
  assert.deepEqual(
    joiner.takeQueued(),
    new Uint8Array([...bytes("reply##PRO-END##"), ...length32Frames(["a##PRO-END##b"])]),
  );
});

test("FrameJoiner: close and abort release a push waiting on a queue no one will drain; abort drops it", async () => {
  for (const end of ["close", "abort"] as const) {
    const joiner = new FrameJoiner({ highWaterMark: 4 });
    const waiting = joiner.push(bytes("last"));
    assert.ok(waiting, "past the high-water mark, push asks to wait");
    joiner[end]();
    await waiting;
    const left = joiner.takeQueued();
    assert.equal(left && str(left), end === "close" ? "last##PRO-END##" : undefined);
  }
});
