/**
 * Micro-benchmarks of the hot path stages: framing, codec, and both together.
 * Run: `deno bench --allow-read --allow-env --allow-ffi bench/`
 */
import { Codec, MessageDecoder } from "../src/wire/codec.ts";
import { FrameJoiner } from "../src/wire/frame_joiner.ts";
import { FrameSplitter } from "../src/wire/frame_splitter.ts";
import { assertFramable } from "../src/wire/terminator.ts";
import { TERMINATOR } from "../src/protocol/messages.ts";

const codec = await Codec.create();
const call = {
  MPRPC: "0.1",
  ID: crypto.randomUUID(),
  METHOD: "testfunc",
  RETURN: true,
  ARGS: [5, 4],
};
// A copy: `encode` gives a view of the codec's buffer, which the next encode overwrites.
const payload = (codec.encode(call) as Uint8Array).slice();
const frame = new Uint8Array([...payload, ...TERMINATOR]);

// 1000 small frames arriving in 64 KiB reads, as a busy pipelined connection sees them.
const wire = new Uint8Array(frame.length * 1000);
for (let i = 0; i < 1000; i++) wire.set(frame, i * frame.length);
const chunks = Array.from(
  { length: Math.ceil(wire.length / 65536) },
  (_, i) => wire.subarray(i * 65536, (i + 1) * 65536),
);

Deno.bench("codec.encode: one call message", { group: "codec" }, () => {
  codec.encode(call);
});

Deno.bench("codec.decode: one call message", { group: "codec" }, () => {
  codec.decode(payload);
});

Deno.bench("assertFramable: one call message", { group: "codec" }, () => {
  assertFramable(payload);
});

Deno.bench("FrameSplitter: 1000 small frames", { group: "stages" }, async () => {
  for await (const _ of ReadableStream.from(chunks).pipeThrough(new FrameSplitter())) {
    /* drain */
  }
});

Deno.bench("FrameSplitter + MessageDecoder: 1000 small messages", { group: "stages" }, async () => {
  const messages = ReadableStream.from(chunks).pipeThrough(new FrameSplitter()).pipeThrough(
    new MessageDecoder(codec),
  );
  for await (const _ of messages) { /* drain */ }
});

Deno.bench("FrameJoiner: 1000 small payloads coalesced", { group: "stages" }, () => {
  const joiner = new FrameJoiner();
  for (let i = 0; i < 1000; i++) joiner.push(payload);
  joiner.takeQueued();
});

const big = new Uint8Array(1024 * 1024);
const bigFrame = (codec.encode({
  MPRPC: "0.1",
  CODE: 200,
  MESSAGE: { ID: "x", RESULT: big },
}) as Uint8Array).slice();
const bigWire = new Uint8Array([...bigFrame, ...TERMINATOR]);
const bigChunks = Array.from(
  { length: Math.ceil(bigWire.length / 65536) },
  (_, i) => bigWire.subarray(i * 65536, (i + 1) * 65536),
);

// The same frames length-prefixed, as after a len32 handshake.
function length32(payloadBytes: Uint8Array, count: number): Uint8Array[] {
  const frame = new Uint8Array(4 + payloadBytes.length);
  new DataView(frame.buffer).setUint32(0, payloadBytes.length);
  frame.set(payloadBytes, 4);
  const all = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) all.set(frame, i * frame.length);
  return Array.from(
    { length: Math.ceil(all.length / 65536) },
    (_, i) => all.subarray(i * 65536, (i + 1) * 65536),
  );
}
const smallLength32 = length32(payload, 1000);

async function drainLength32(chunks: Uint8Array[]): Promise<void> {
  const splitter = new FrameSplitter();
  splitter.useLength32();
  for await (const _ of ReadableStream.from(chunks).pipeThrough(splitter)) { /* drain */ }
}

Deno.bench("FrameSplitter, len32: 1000 small frames", { group: "stages" }, async () => {
  await drainLength32(smallLength32);
});

Deno.bench("FrameSplitter: one 1 MiB frame in 64 KiB reads", { group: "large" }, async () => {
  for await (
    const _ of ReadableStream.from(bigChunks).pipeThrough(new FrameSplitter())
  ) { /* drain */ }
});

const bigLength32 = length32(bigFrame, 1);

Deno.bench(
  "FrameSplitter, len32: one 1 MiB frame in 64 KiB reads",
  { group: "large" },
  async () => {
    await drainLength32(bigLength32);
  },
);
