/**
 * The MPRPC 0.1 frame terminator `##PRO-END##`: finding it, and refusing to send a payload that
 * holds it.
 *
 * @module
 */
import { ResultLimitError } from "../protocol/errors.ts";
import { TERMINATOR } from "../protocol/messages.ts";

/** The terminator's length in bytes. */
export const T = TERMINATOR.length;
const FIRST = TERMINATOR[0];

/** Whether the terminator starts at `bytes[at]`. */
export function terminatorAt(bytes: Uint8Array, at: number): boolean {
  for (let k = 0; k < T; k++) if (bytes[at + k] !== TERMINATOR[k]) return false;
  return true;
}

/** The index of the first terminator in `bytes` at or after `from`, or -1. */
export function indexOfTerminator(bytes: Uint8Array, from = 0): number {
  const last = bytes.length - T;
  for (let i = bytes.indexOf(FIRST, from); i !== -1 && i <= last; i = bytes.indexOf(FIRST, i + 1)) {
    if (terminatorAt(bytes, i)) return i;
  }
  return -1;
}

/**
 * Throws {@linkcode ResultLimitError} if `payload` cannot be framed: MPRPC 0.1 cannot escape a
 * terminator inside a payload, and sending one would desynchronise the peer.
 */
export function assertFramable(payload: Uint8Array): void {
  if (indexOfTerminator(payload) !== -1) {
    throw new ResultLimitError(
      "the encoded message contains the frame terminator, which MPRPC 0.1 cannot escape",
    );
  }
}
