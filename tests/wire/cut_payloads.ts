/**
 * Test data for payloads that hold the terminator (tests/wire/cut_frames_test.ts,
 * tests/server/terminator_test.ts): strings, a count of terminators, and zlib in stored blocks.
 */
import { concat, TERM } from "../helpers.ts";

/**
 * Strings that hold the terminator: once, many times, at either end, alone, beside non-ASCII
 * text, and ending in its first 9 or 10 bytes, so that, last in a message, the message's own
 * terminator overlaps the one the splitter found (`…##PRO-END##PRO-END##`).
 */
export const CUT_STRINGS: string[] = [
  "a##PRO-END##b",
  "##PRO-END##x##PRO-END####PRO-END##y##PRO-END##",
  "##PRO-END##at the start",
  "at the end##PRO-END##",
  "ends like##PRO-END",
  "ends like##PRO-END#",
  "##PRO-END##",
  "中文##PRO-END##✓",
];

/** How many times the terminator occurs in `data`, found naively (overlaps counted). */
export function countTerminators(data: Uint8Array | string): number {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let n = 0;
  for (let i = 0; i + TERM.length <= bytes.length; i++) {
    if (TERM.every((b, k) => bytes[i + k] === b)) n++;
  }
  return n;
}

/** `length` random bytes with the terminator written at each of `at`. */
export function blobWithTerminators(length: number, at: number[]): Uint8Array {
  const blob = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(blob.subarray(at, at + 65536));
  for (const i of at) blob.set(TERM, i);
  return blob;
}

/**
 * A zlib stream of `data` in stored blocks (what zlib does with incompressible data, and what
 * Python's `zlib.compress(data, 0)` always does): its bytes hold `data` verbatim, terminators
 * included.
 */
export function storedZlib(data: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [new Uint8Array([0x78, 0x01])];
  for (let at = 0; at < data.length || at === 0; at += 65535) {
    const block = data.subarray(at, at + 65535);
    const last = at + 65535 >= data.length ? 1 : 0;
    const n = block.length;
    parts.push(new Uint8Array([last, n & 0xff, n >> 8, ~n & 0xff, (~n >> 8) & 0xff]), block);
  }
  let a = 1;
  let b = 0;
  for (const byte of data) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  parts.push(new Uint8Array([b >> 8, b & 0xff, a >> 8, a & 0xff]));
  return concat(parts);
}
