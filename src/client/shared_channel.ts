/**
 * A blocking channel through shared memory, from a worker to the thread that waits on it: the
 * worker writes a message in pieces of at most one window; the reader blocks (`Atomics.wait`)
 * for each piece, so messages of any size pass through a fixed buffer.
 *
 * @module
 */
import { TimeoutException } from "../protocol/errors.ts";

const STATE = 0;
const LENGTH = 1;
const LAST = 2;
const EMPTY = 0;
const FULL = 1;
const HEADER = 16;

/** The default window: the most bytes one piece carries. */
const DEFAULT_WINDOW = 1024 * 1024;

/** Allocates the shared memory for a channel with a window of `window` bytes. */
export function createChannel(window = DEFAULT_WINDOW): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER + window);
}

/** Writer side (never blocks its thread): sends `bytes`, waiting for the reader between pieces. */
export async function writeMessage(channel: SharedArrayBuffer, bytes: Uint8Array): Promise<void> {
  const control = new Int32Array(channel, 0, HEADER / 4);
  const window = new Uint8Array(channel, HEADER);
  let at = 0;
  do {
    while (Atomics.load(control, STATE) === FULL) {
      const wait = Atomics.waitAsync(control, STATE, FULL);
      if (wait.async) await wait.value;
    }
    const length = Math.min(window.length, bytes.length - at);
    window.set(bytes.subarray(at, at + length));
    at += length;
    control[LENGTH] = length;
    control[LAST] = at === bytes.length ? 1 : 0;
    Atomics.store(control, STATE, FULL);
    Atomics.notify(control, STATE);
  } while (at < bytes.length);
}

/**
 * Reader side: blocks until a whole message has arrived and returns it. `timeout` (ms) bounds
 * the whole wait; past it, a {@linkcode TimeoutException}.
 */
export function readMessage(channel: SharedArrayBuffer, timeout = Infinity): Uint8Array {
  const control = new Int32Array(channel, 0, HEADER / 4);
  const window = new Uint8Array(channel, HEADER);
  const deadline = performance.now() + timeout;
  const pieces: Uint8Array[] = [];
  while (true) {
    const left = Math.max(0, deadline - performance.now());
    if (Atomics.wait(control, STATE, EMPTY, left) === "timed-out") {
      throw new TimeoutException(`no answer within ${timeout} ms`);
    }
    pieces.push(window.slice(0, control[LENGTH]));
    const last = control[LAST] === 1;
    Atomics.store(control, STATE, EMPTY);
    Atomics.notify(control, STATE);
    if (last) break;
  }
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
  let at = 0;
  for (const piece of pieces) out.set(piece, at), at += piece.length;
  return out;
}
