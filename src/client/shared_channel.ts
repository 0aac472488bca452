/**
 * A blocking channel through shared memory, from a worker to the thread that waits on it: the
 * worker writes a message in pieces of at most one window; the reader blocks (`Atomics.wait`)
 * for each piece, so messages of any size pass through a fixed buffer.
 *
 * Every message answers one numbered request, and each piece carries that number in the control
 * header. The reader waits for one number at a time and drops every piece of any other: a reply
 * that comes after its caller gave up (a timeout), or the rest of one whose reading a timeout
 * cut short, is skipped without being decoded and never taken for the answer to a later request.
 *
 * @module
 */
import { TimeoutException } from "../protocol/errors.ts";

// Control header slots (Int32).
const STATE = 0;
const LENGTH = 1;
const LAST = 2;
/** The request the piece in the window answers. */
const SEQ = 3;
/** The request the reader waits for now: a writer of an older one gives up between pieces. */
const WANTED = 4;
const EMPTY = 0;
const FULL = 1;
const HEADER = 32;

/** The default window: the most bytes one piece carries. */
const DEFAULT_WINDOW = 1024 * 1024;

/** Allocates the shared memory for a channel with a window of `window` bytes. */
export function createChannel(window = DEFAULT_WINDOW): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER + window);
}

/**
 * The number after `seq`. Numbers wrap around within the Int32 the header stores, so they are
 * only ever compared for equality, or by their wrapped difference.
 */
export function nextSeq(seq: number): number {
  return (seq + 1) | 0;
}

/**
 * Writer side (never blocks its thread): sends `bytes` as the answer to request `seq`, waiting
 * for the reader between pieces. Stops early, silently, once the reader waits for a newer request:
 * the rest would only be dropped.
 */
export async function writeMessage(
  channel: SharedArrayBuffer,
  seq: number,
  bytes: Uint8Array,
): Promise<void> {
  const control = new Int32Array(channel, 0, HEADER / 4);
  const window = new Uint8Array(channel, HEADER);
  let at = 0;
  do {
    while (Atomics.load(control, STATE) === FULL) {
      const wait = Atomics.waitAsync(control, STATE, FULL);
      if (wait.async) await wait.value;
    }
    // Newer, not just different: the reader may not have started waiting for `seq` yet.
    if (((Atomics.load(control, WANTED) - seq) | 0) > 0) return;
    const length = Math.min(window.length, bytes.length - at);
    window.set(bytes.subarray(at, at + length));
    at += length;
    control[LENGTH] = length;
    control[LAST] = at === bytes.length ? 1 : 0;
    control[SEQ] = seq;
    Atomics.store(control, STATE, FULL);
    Atomics.notify(control, STATE);
  } while (at < bytes.length);
}

/**
 * Reader side: blocks until the whole answer to request `seq` has arrived and returns it,
 * dropping pieces of any other request on the way. `timeout` (ms) bounds the whole wait; past
 * it, a {@linkcode TimeoutException}.
 */
export function readMessage(
  channel: SharedArrayBuffer,
  seq: number,
  timeout = Infinity,
): Uint8Array {
  const control = new Int32Array(channel, 0, HEADER / 4);
  const window = new Uint8Array(channel, HEADER);
  Atomics.store(control, WANTED, seq);
  const deadline = performance.now() + timeout;
  const pieces: Uint8Array[] = [];
  while (true) {
    const left = Math.max(0, deadline - performance.now());
    if (Atomics.wait(control, STATE, EMPTY, left) === "timed-out") {
      throw new TimeoutException(`no answer within ${timeout} ms`);
    }
    const wanted = control[SEQ] === seq;
    if (wanted) pieces.push(window.slice(0, control[LENGTH]));
    const last = control[LAST] === 1;
    Atomics.store(control, STATE, EMPTY);
    Atomics.notify(control, STATE);
    if (wanted && last) break;
  }
  if (pieces.length === 1) return pieces[0];
  const out = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
  let at = 0;
  for (const piece of pieces) out.set(piece, at), at += piece.length;
  return out;
}
