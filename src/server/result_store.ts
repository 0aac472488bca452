/**
 * The outcomes of `RETURN: false` calls, kept for `system.getresult`, within bounds a client
 * cannot push past: a count of outcomes, a budget of bytes they may hold together, and a time
 * after which an unclaimed one is dropped.
 *
 * @module
 */
import { Encoder } from "../../deps.ts";
import { RequestError, ResultLimitError, RpcUnavailableException } from "../protocol/errors.ts";
import type { Answer } from "../call/answer.ts";

/** Bounds of a {@linkcode ResultStore}. */
export interface ResultStoreLimits {
  /** Milliseconds an unclaimed outcome is kept after its call started. */
  ttl: number;
  /** The most outcomes kept at once. */
  count: number;
  /**
   * The most bytes all kept outcomes hold together, each value or item counted as its
   * MessagePack encoding plus 16 bytes. One outcome may hold at most a quarter of it, so that
   * one endless stream cannot take the whole budget from the others.
   */
  bytes: number;
}

// What an item costs beyond its encoding: the JavaScript value and its slot in the array. Counted
// so that a stream of tiny items cannot hold far more memory than its encoded size.
const ITEM_OVERHEAD = 16;

interface Entry {
  answer: Promise<Answer>;
  created: number;
  /** The call has finished (and a stream has been kept whole, or cut at the budget). */
  settled: boolean;
  /** Handed out by `take`: its bytes are released once it settles. */
  taken: boolean;
  /** What it is charged against the budget. */
  bytes: number;
}

async function* replay(items: unknown[], error?: unknown): AsyncGenerator<unknown> {
  yield* items;
  if (error !== undefined) throw error;
}

/**
 * Kept outcomes by call ID. An outcome is handed out once. Unclaimed ones are dropped `ttl`
 * milliseconds after their call started (checked whenever a new one is stored, so no timers).
 * A stream is run to its end and kept as items; one that outgrows the byte budget is stopped
 * there, and replays the items kept followed by a `ResultLimitError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ResultStore } from "./result_store.ts";
 * const store = new ResultStore({ ttl: 60_000, count: 10, bytes: 1024 });
 * await store.put("a", Promise.resolve({ value: 42 }));
 * assert.deepEqual(await store.take("a"), { value: 42 });
 * assert.equal(store.take("a"), undefined, "handed out once");
 * ```
 */
export class ResultStore {
  readonly #entries = new Map<string, Entry>();
  readonly #limits: ResultStoreLimits;
  readonly #encoder = new Encoder({ ignoreUndefined: true });
  #bytes = 0;

  /** Creates a store within `limits`. */
  constructor(limits: ResultStoreLimits) {
    this.#limits = limits;
  }

  /**
   * Checks that the outcome of call `id` can be kept: throws a `RequestError` (400) if an
   * outcome with that ID is already kept, or `RpcUnavailableException` (503) if the store is
   * full. Call it before running the call, so that a refused call never runs.
   */
  reserve(id: string): void {
    this.#sweep();
    if (this.#entries.has(id)) {
      throw new RequestError(`a RETURN: false outcome with ID ${id} is already kept`);
    }
    if (this.#entries.size >= this.#limits.count) {
      throw new RpcUnavailableException(
        `${this.#entries.size} RETURN: false outcomes are waiting to be fetched: the most kept`,
      );
    }
  }

  /** Keeps the outcome of call `id` (after {@linkcode ResultStore.reserve}); resolves when the call has finished. */
  put(id: string, answer: Promise<Answer>): Promise<void> {
    const entry: Entry = { answer, created: Date.now(), settled: false, taken: false, bytes: 0 };
    entry.answer = this.#materialize(answer, entry);
    entry.answer.catch(() => {});
    this.#entries.set(id, entry);
    return entry.answer.then(() => {}, () => {}).finally(() => {
      entry.settled = true;
      if (entry.taken) this.#release(entry);
    });
  }

  /** Takes the outcome of call `id` (waiting for it if still running), or `undefined`. */
  take(id: string): Promise<Answer> | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    this.#entries.delete(id);
    entry.taken = true;
    // Still running, it holds its items until it settles; put() releases them then.
    if (entry.settled) this.#release(entry);
    return entry.answer;
  }

  #release(entry: Entry): void {
    this.#bytes -= entry.bytes;
    entry.bytes = 0;
  }

  // Charges `entry` for `value`; false (charging nothing) if that would exceed the budget.
  #charge(entry: Entry, value: unknown): boolean {
    let size: number;
    try {
      size = this.#encoder.encodeSharedRef(value).length + ITEM_OVERHEAD;
    } catch {
      size = ITEM_OVERHEAD; // sending it will fail with its own 405
    }
    if (this.#bytes + size > this.#limits.bytes) return false;
    if (entry.bytes + size > this.#limits.bytes / 4) return false;
    this.#bytes += size;
    entry.bytes += size;
    return true;
  }

  // Runs a stream to its end (or to the byte budget) so that it can be replayed later.
  async #materialize(pending: Promise<Answer>, entry: Entry): Promise<Answer> {
    const answer = await pending;
    const overBudget = () =>
      new ResultLimitError(
        `the outcome does not fit the budget for kept RETURN: false outcomes (${this.#limits.bytes} bytes in all, a quarter of it for one)`,
      );
    if ("value" in answer) {
      if (!this.#charge(entry, answer.value)) throw overBudget();
      return answer;
    }
    const items: unknown[] = [];
    try {
      for await (const item of answer.stream) {
        // Leaving the loop stops the generator: an endless stream is never kept whole.
        if (!this.#charge(entry, item)) return { stream: replay(items, overBudget()) };
        items.push(item);
      }
    } catch (error) {
      return { stream: replay(items, error ?? new Error("stream failed")) };
    }
    return { stream: replay(items) };
  }

  #sweep(): void {
    const expired = Date.now() - this.#limits.ttl;
    for (const [id, entry] of this.#entries) {
      if (entry.created > expired) break;
      if (!entry.settled) continue;
      this.#entries.delete(id);
      this.#release(entry);
    }
  }
}
