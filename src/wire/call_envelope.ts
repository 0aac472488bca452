/**
 * {@linkcode CallEnvelopeReader}: a server's quick read of the call messages clients send.
 *
 * @module
 */
import type { Message } from "../protocol/messages.ts";

// The keys read here: a call's own, which every client sends. A message with any other key (an
// extension's field, AUTH, a heartbeat) goes to the decoder.
const KEYS = ["MPRPC", "ID", "METHOD", "RETURN", "ARGS", "KWARGS"];
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
const KEY_BYTES = KEYS.map((key) => textEncoder.encode(key));

// Strings longer than this are left to the decoder: IDs and method names are short.
const MAX_STRING = 64;
// Up to this length, text is made from its char codes; longer, by the TextDecoder (measured on
// Deno: 28 ns for 3 characters, 48 for 11, 132 for 36, against the decoder's 156, 158 and 105).
const SHORT_TEXT = 24;

// The key whose bytes are payload[at, at + length), if it is one of KEYS.
function keyAt(payload: Uint8Array, at: number, length: number): string | undefined {
  candidates: for (let k = 0; k < KEYS.length; k++) {
    const bytes = KEY_BYTES[k];
    if (bytes.length !== length) continue;
    for (let i = 0; i < length; i++) if (payload[at + i] !== bytes[i]) continue candidates;
    return KEYS[k];
  }
  return undefined;
}

/**
 * Reads the messages clients send for calls, `{ MPRPC, ID, METHOD, RETURN, ARGS, KWARGS }` in any
 * order, without a general MessagePack decoder for the map, its keys and its strings: those are
 * read from the bytes. One-byte values, short ASCII strings and short arrays of those (the
 * arguments of many calls) are read here too; any other value only in the last field, where
 * `decodeLast` decodes the rest of the payload (mprpc's clients send `ARGS` last; pymprpc sends
 * `KWARGS` last, `{}` when empty). Decoding a value elsewhere alone would not always give what
 * decoding the payload whole does: the decoder reads past the end of a string that ends in bad
 * UTF-8.
 *
 * `read` gives the message the decoder would, or `undefined` for any payload it does not read
 * this way (any other key or layout, a longer or non-ASCII string, any other value before the
 * last field, bytes cut short or left over, a last value that does not decode): the caller then
 * decodes it whole, and whatever is wrong with it is reported as the decoder reports it.
 *
 * The method name read last is kept, and given again for the same bytes: a server's calls come
 * in runs of one method, whose lookups then compare one string with itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Decoder, Encoder } from "../../deps.ts";
 * import { CallEnvelopeReader } from "./call_envelope.ts";
 * const decoder = new Decoder();
 * const reader = new CallEnvelopeReader((bytes) => decoder.decode(bytes));
 * const encode = (message: unknown) => new Encoder().encode(message);
 * const call = { MPRPC: "0.1", ID: "7", METHOD: "add", RETURN: true, ARGS: [1, 2], KWARGS: {} };
 * assert.deepEqual(reader.read(encode(call)), call);
 * assert.equal(reader.read(encode({ ...call, DEADLINE: 500 })), undefined); // left to the decoder
 * ```
 */
export class CallEnvelopeReader {
  readonly #decodeLast: (bytes: Uint8Array) => unknown;
  #method = "";
  #methodBytes = new Uint8Array(0);
  // Where the value #scalar or #items read ends.
  #end = 0;

  /**
   * A reader that leaves a last field it does not read itself to `decodeLast`, which decodes one
   * whole value and throws if the bytes hold anything else.
   */
  constructor(decodeLast: (bytes: Uint8Array) => unknown) {
    this.#decodeLast = decodeLast;
  }

  /** The message in `payload`, or `undefined` if it is not read here. */
  read(payload: Uint8Array): Message | undefined {
    const fields = payload[0] - 0x80; // a map of at most 15 fields has a one-byte header
    if (!(fields > 0 && fields <= KEYS.length)) return undefined;
    const message: Message = {};
    let at = 1;
    for (let field = 1; field <= fields; field++) {
      const keyLength = payload[at] - 0xa0; // a key of at most 31 bytes: a one-byte header
      const key = keyAt(payload, at + 1, keyLength);
      if (key === undefined) return undefined;
      at += 1 + keyLength;
      const type = payload[at];
      let value = this.#scalar(payload, at, key);
      if (value !== undefined) {
        at = this.#end;
      } else if (type > 0x90 && type <= 0x9f && (value = this.#items(payload, at)) !== undefined) {
        at = this.#end;
      } else if (field === fields) {
        value = this.#decoded(payload, at);
        at = payload.length;
      }
      if (value === undefined) return undefined;
      message[key] = value;
    }
    return at === payload.length ? message : undefined;
  }

  // The one-byte value or short ASCII string at `at` (of the field `key`, if a field), else
  // `undefined`; `#end` is then where it ends.
  #scalar(payload: Uint8Array, at: number, key?: string): unknown {
    const text = textStart(payload, at);
    if (text === -1) {
      this.#end = at + 1;
      return oneByteValue(payload[at]);
    }
    const end = this.#end = text + stringLength(payload, at);
    return end <= payload.length ? this.#text(payload, text, end, key) : undefined;
  }

  // The array at `at` (a fixarray) if its items are one-byte values and short ASCII strings, as
  // the arguments of many calls are; `#end` is then where it ends.
  #items(payload: Uint8Array, at: number): unknown[] | undefined {
    const items = new Array(payload[at++] & 0x0f);
    for (let i = 0; i < items.length; i++, at = this.#end) {
      items[i] = this.#scalar(payload, at);
      if (items[i] === undefined) return undefined;
    }
    this.#end = at;
    return items;
  }

  // The value that fills the payload from `at` on, decoded; `undefined` if it does not decode.
  #decoded(payload: Uint8Array, at: number): unknown {
    try {
      return this.#decodeLast(payload.subarray(at));
    } catch {
      return undefined; // reported as the decoder reports the whole payload
    }
  }

  // The string payload[from, to) of the field `key`; `undefined` unless it is ASCII.
  #text(payload: Uint8Array, from: number, to: number, key?: string): string | undefined {
    if (key !== "METHOD") return ascii(payload, from, to);
    if (sameBytes(this.#methodBytes, payload, from, to)) return this.#method;
    const method = ascii(payload, from, to);
    if (method !== undefined) {
      this.#method = method;
      this.#methodBytes = payload.slice(from, to);
    }
    return method;
  }
}

// Where the text of a short string at `at` starts (after its header), or -1 if `at` holds no
// string of at most MAX_STRING bytes.
function textStart(payload: Uint8Array, at: number): number {
  const type = payload[at];
  if (type >= 0xa0 && type <= 0xbf) return at + 1;
  return type === 0xd9 && payload[at + 1] <= MAX_STRING ? at + 2 : -1;
}

// The length of the short string at `at` (see textStart).
function stringLength(payload: Uint8Array, at: number): number {
  const type = payload[at];
  return type === 0xd9 ? payload[at + 1] : type & 0x1f;
}

/**
 * The value of the one-byte MessagePack item `type` (a fixint, nil, a boolean, an empty map or
 * array), or `undefined` if it is none: what decoding that byte gives. Containers are new each
 * time: whoever gets one may change it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { oneByteValue } from "./call_envelope.ts";
 * assert.deepEqual([0x07, 0xff, 0xc0, 0xc3, 0x90].map(oneByteValue), [7, -1, null, true, []]);
 * assert.equal(oneByteValue(0xcc), undefined); // a uint 8: two bytes
 * ```
 */
export function oneByteValue(type: number): unknown {
  if (type < 0x80) return type;
  if (type >= 0xe0) return type - 0x100;
  if (type === 0xc0) return null;
  if (type === 0xc2 || type === 0xc3) return type === 0xc3;
  if (type === 0x80) return {};
  if (type === 0x90) return [];
  return undefined;
}

// payload[from, to) as text if it is all ASCII (the same text in any decoding), else `undefined`.
function ascii(payload: Uint8Array, from: number, to: number): string | undefined {
  for (let i = from; i < to; i++) if (payload[i] >= 0x80) return undefined;
  return to - from > SHORT_TEXT
    ? textDecoder.decode(payload.subarray(from, to))
    : fromCharCodes(payload, from, to);
}

const char = String.fromCharCode;

// The text of payload[from, to), one char code a byte, in calls of at most eight arguments: an
// array or a typed array passed to `fromCharCode` costs more than the text is long.
function fromCharCodes(p: Uint8Array, from: number, to: number): string {
  let text = "";
  let i = from;
  for (; to - i >= 8; i += 8) {
    text += char(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6], p[i + 7]);
  }
  switch (to - i) {
    case 7:
      return text + char(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5], p[i + 6]);
    case 6:
      return text + char(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4], p[i + 5]);
    case 5:
      return text + char(p[i], p[i + 1], p[i + 2], p[i + 3], p[i + 4]);
    case 4:
      return text + char(p[i], p[i + 1], p[i + 2], p[i + 3]);
    case 3:
      return text + char(p[i], p[i + 1], p[i + 2]);
    case 2:
      return text + char(p[i], p[i + 1]);
    case 1:
      return text + char(p[i]);
  }
  return text;
}

function sameBytes(kept: Uint8Array, payload: Uint8Array, from: number, to: number): boolean {
  if (kept.length !== to - from || kept.length === 0) return false;
  for (let i = 0; i < kept.length; i++) if (kept[i] !== payload[from + i]) return false;
  return true;
}
