import assert from "node:assert/strict";
import { readFile, test } from "../test_platform.deno.ts";
import { decode, encode, fc } from "../test_deps.ts";
import { CallEnvelopeReader } from "../../src/wire/call_envelope.ts";

const reader = () => new CallEnvelopeReader(decode);

// What decoding `payload` whole gives, or NOT_DECODED.
const NOT_DECODED = Symbol("not decoded");
function decoded(payload: Uint8Array): unknown {
  try {
    return decode(payload);
  } catch {
    return NOT_DECODED;
  }
}

const KEYS = ["MPRPC", "ID", "METHOD", "RETURN", "ARGS", "KWARGS"];
const value = fc.oneof(
  fc.string({ maxLength: 70 }),
  fc.string({ maxLength: 70, unit: "grapheme" }),
  fc.integer({ min: -40, max: 300 }),
  fc.constantFrom(null, true, false, {}, [], 1.5),
  fc.array(
    fc.oneof(fc.integer({ min: -40, max: 200 }), fc.string({ maxLength: 30 }), fc.boolean()),
    {
      maxLength: 17,
    },
  ),
  fc.anything({ withNullPrototype: false, withBigInt: false, withTypedArray: false }),
);
// Call-like messages: the call's keys (and sometimes another) in any order, any values.
const message = fc.uniqueArray(
  fc.tuple(fc.oneof(fc.constantFrom(...KEYS), fc.constantFrom("DEADLINE", "AUTH", "x")), value),
  { selector: ([key]) => key, minLength: 1, maxLength: 7 },
).map((entries) => Object.fromEntries(entries));

test("call envelope: what it reads is what the decoder reads, for any payload, cut or changed", () => {
  const calls = reader();
  fc.assert(
    fc.property(message, fc.nat(), fc.nat(255), fc.boolean(), (fields, where, byte, cut) => {
      const payload = encode(fields);
      const changed = payload.slice();
      const at = where % payload.length;
      if (cut) changed[at] = byte;
      for (const bytes of [payload, changed, payload.subarray(0, at), concatByte(payload, byte)]) {
        const read = calls.read(bytes);
        if (read !== undefined) assert.deepEqual(read, decoded(bytes));
      }
    }),
    { numRuns: 3000 },
  );
});

function concatByte(payload: Uint8Array, byte: number): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out.set(payload);
  out[payload.length] = byte;
  return out;
}

test("call envelope: reads the calls mprpc's and pymprpc's clients send", async () => {
  const calls = reader();
  const ours = { MPRPC: "0.1", ID: "7f3a.42", METHOD: "add", RETURN: true, ARGS: [1, "é", [2]] };
  const noKwargs = {
    MPRPC: "0.1",
    ID: "7f3a.43",
    METHOD: "add",
    RETURN: false,
    KWARGS: {},
    ARGS: [],
  };
  const uuid = "2b7e1516-28ae-4d2a-abf7-158809cf4f3c";
  const pymprpc = { MPRPC: "0.1", ID: uuid, METHOD: "f", RETURN: true, ARGS: [1, "x"], KWARGS: {} };
  for (const call of [ours, noKwargs, pymprpc]) assert.deepEqual(calls.read(encode(call)), call);
  // The same method twice: the second one's name is the first one's.
  assert.equal(calls.read(encode({ ...ours, ID: "1" }))?.METHOD, "add");
  // Any value in the last field is decoded; elsewhere, one not read here leaves the whole message
  // to the decoder: what Python's msgpack wrote for a pymprpc call with text and bytes in ARGS
  // (tests/fixtures/make_fixtures.py), KWARGS before ARGS (mprpc's client, given some), a long ID.
  const long = { ...ours, ARGS: ["x".repeat(300), { a: 1.5 }, new Uint8Array([1, 2])] };
  assert.deepEqual(calls.read(encode(long)), long);
  const python = await readFile(new URL("../fixtures/message.msgpack", import.meta.url));
  assert.equal(calls.read(python), undefined);
  assert.equal(calls.read(encode({ ...noKwargs, KWARGS: { b: 2 } })), undefined);
  assert.equal(calls.read(encode({ ...ours, ID: "x".repeat(300) })), undefined);
});

test("call envelope: leaves other messages, non-ASCII strings and bad bytes to the decoder", () => {
  const calls = reader();
  const call = { MPRPC: "0.1", ID: "1", METHOD: "add", RETURN: true, ARGS: [1, 2] };
  const left = [
    { ...call, DEADLINE: 500 }, // an extension's field
    { MPRPC: "0.1", AUTH: { USERNAME: "admin", PASSWORD: "admin" } },
    { MPRPC: "0.1", HEARTBEAT: "ping" },
    { ...call, ID: "é" }, // not ASCII
    {},
  ];
  for (const message of left) assert.equal(calls.read(encode(message)), undefined);
  // A string ending in a bad UTF-8 lead byte: the decoder reads on past its end, into the next
  // field, so that the value depends on what follows it (found by the property above, on Node).
  const badText = encode({ ID: { k: "    x" }, KWARGS: 0 });
  badText[badText.indexOf(0x78)] = 0xf0;
  assert.equal(calls.read(badText), undefined);
  const payload = encode(call);
  assert.equal(calls.read(payload.subarray(0, payload.length - 1)), undefined); // cut short
  assert.equal(calls.read(concatByte(payload, 0xc0)), undefined); // a byte left over
  assert.equal(calls.read(encode([call])), undefined); // no map
  assert.equal(calls.read(new Uint8Array(0)), undefined);
});
