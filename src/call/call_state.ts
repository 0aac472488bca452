/**
 * The one state machine of a call seen from the side that waits for it: the client waiting on
 * the server, the worker pool waiting on a worker, the broker waiting on a member.
 *
 * ```
 * pending ──value──────────────▶ settled
 *    │ └────fail───────────────▶ settled
 *    └─open──▶ streaming ─end──▶ settled
 *                 │ ▲ └──fail──▶ settled (after the items already pushed)
 *                 └─┘ item
 * ```
 *
 * @module
 */
import { ItemStream } from "./item_stream.ts";

/**
 * One call's outcome as it arrives: a value, or a stream of items, or an error; then settled.
 * {@linkcode CallState.result} resolves to the value or to the {@linkcode ItemStream}, or rejects
 * with the error. Every transition after settling is ignored and answers `false`, so a late or
 * duplicate message from a peer can never touch a finished call.
 *
 * @example A streamed outcome
 * ```ts
 * import assert from "node:assert/strict";
 * import { CallState } from "./call_state.ts";
 * const call = new CallState();
 * call.open();
 * call.item(1);
 * call.item(2);
 * assert.equal(call.end(), true);
 * assert.equal(call.settled, true);
 * const items = [];
 * for await (const item of await call.result as AsyncIterable<number>) items.push(item);
 * assert.deepEqual(items, [1, 2]);
 * assert.equal(call.value(3), false); // settled: ignored
 * ```
 */
export class CallState {
  // The outcome and its settle functions, held here rather than in a `Deferred`: one object
  // fewer for every call.
  readonly #outcome: Promise<unknown>;
  #resolve!: (value: unknown) => void;
  #reject!: (reason: unknown) => void;
  #stream?: ItemStream;
  #settled = false;

  /**
   * A pending call. Unless `observed` (the caller takes `result` at once, and handles it), a
   * rejection nobody reads is not an unhandled one: a caller may give up (a timeout, a failed
   * send) and never read it.
   */
  constructor(observed = false) {
    this.#outcome = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (!observed) this.#outcome.catch(() => {});
  }

  /** The value, or the stream of items; rejects with the call's error. */
  get result(): Promise<unknown> {
    return this.#outcome;
  }

  /** Whether the call is over: a value, the stream's end, or an error. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Whether the outcome is a stream that is still open. */
  get streaming(): boolean {
    return this.#stream !== undefined && !this.#settled;
  }

  /** The call answered with one value; settles it. */
  value(value: unknown): boolean {
    if (this.#settled || this.#stream) return false;
    this.#settled = true;
    this.#resolve(value);
    return true;
  }

  /**
   * The call answered with a stream; `onCancel` runs if its reader stops early, `onTake` each
   * time it takes an item. Returns the stream, or `undefined` if the call was not pending.
   */
  open(onCancel?: () => void, onTake?: () => void): ItemStream | undefined {
    if (this.#settled || this.#stream) return undefined;
    this.#stream = new ItemStream(onCancel, onTake);
    this.#resolve(this.#stream);
    return this.#stream;
  }

  /** One item of the open stream, of `size` bytes on the wire (for flow control). */
  item(value: unknown, size?: number): boolean {
    if (!this.streaming) return false;
    this.#stream!.push(value, size);
    return true;
  }

  /** The stream ended; settles the call. */
  end(): boolean {
    if (!this.streaming) return false;
    this.#settled = true;
    this.#stream!.end();
    return true;
  }

  /**
   * The call failed; settles it. A pending call rejects; an open stream throws `error` to its
   * reader after the items already pushed.
   */
  fail(error: unknown): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#stream) this.#stream.fail(error);
    else this.#reject(error);
    return true;
  }
}
