/**
 * The outcomes of `RETURN: false` calls, kept for `system.getresult`.
 *
 * @module
 */
import type { MprpcError } from "../protocol/errors.ts";

/** What a call produced: one value, or a stream of items. */
export type Answer = { value: unknown } | { stream: AsyncIterable<unknown> };

interface Entry {
  answer: Promise<Answer>;
  created: number;
  settled: boolean;
}

async function* replay(items: unknown[], error?: MprpcError | unknown): AsyncGenerator<unknown> {
  yield* items;
  if (error !== undefined) throw error;
}

// Runs a stream to its end so that it can be replayed later, error included.
async function materialize(pending: Promise<Answer>): Promise<Answer> {
  const answer = await pending;
  if ("value" in answer) return answer;
  const items: unknown[] = [];
  try {
    for await (const item of answer.stream) items.push(item);
  } catch (error) {
    return { stream: replay(items, error ?? new Error("stream failed")) };
  }
  return { stream: replay(items) };
}

/**
 * Kept outcomes by call ID. An outcome is handed out once; unclaimed ones are dropped `ttl`
 * milliseconds after their call started (checked whenever a new one is stored, so no timers).
 */
export class ResultStore {
  readonly #entries = new Map<string, Entry>();
  readonly #ttl: number;

  /** Creates a store that keeps unclaimed outcomes for `ttl` milliseconds. */
  constructor(ttl: number) {
    this.#ttl = ttl;
  }

  /** Stores the outcome of call `id`; resolves when the call has finished. */
  put(id: string, answer: Promise<Answer>): Promise<void> {
    this.#sweep();
    const entry: Entry = { answer: materialize(answer), created: Date.now(), settled: false };
    entry.answer.catch(() => {});
    this.#entries.set(id, entry);
    return entry.answer.then(() => {}, () => {}).finally(() => entry.settled = true);
  }

  /** Takes the outcome of call `id` (waiting for it if still running), or `undefined`. */
  take(id: string): Promise<Answer> | undefined {
    const entry = this.#entries.get(id);
    this.#entries.delete(id);
    return entry?.answer;
  }

  #sweep(): void {
    const expired = Date.now() - this.#ttl;
    for (const [id, entry] of this.#entries) {
      if (entry.created > expired) break;
      if (entry.settled) this.#entries.delete(id);
    }
  }
}
