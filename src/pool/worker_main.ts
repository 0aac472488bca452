/**
 * The entry point of a pool worker: loads the registered modules, describes their exports, and
 * runs one call at a time, streaming the items of an async iterable result. Each call runs
 * inside `runInCall`, so `callContext()` works in pool functions as it does inline; its signal
 * aborts when the pool sends "cancel" for the call.
 *
 * @module
 */
import { isAsyncIterable } from "../call/answer.ts";
import { runInCall } from "../call/call_context.ts";
import { Wakeup } from "../util/wakeup.ts";
import { RpcUnavailableException } from "../protocol/errors.ts";
import { parentPort } from "../platform/runtime.deno.ts";
import type { ToWorker } from "./worker_messages.ts";
import { describeError, detachBinary, STREAM_WINDOW } from "./worker_messages.ts";

type CallMessage = Extract<ToWorker, { type: "call" }>;

const port = parentPort();
const modules = new Map<string, Record<string, unknown>>();
/** Each running call, by pool id; a call removes its own when it ends. */
const running = new Map<number, RunningCall>();

// What the pool can tell a running call: stop, or send more items.
class RunningCall {
  readonly controller = new AbortController();
  // Stream items the pool's reader has room for (see STREAM_WINDOW).
  #credit = STREAM_WINDOW;
  readonly #more = new Wakeup();

  grant(items: number): void {
    this.#credit += items;
    this.#more.wake();
  }

  cancel(): void {
    this.controller.abort(new RpcUnavailableException("the call was cancelled"));
    this.#more.wake();
  }

  // Spends one item of credit, first waiting for some if there is none (or for a cancel).
  async spend(): Promise<void> {
    while (this.#credit === 0 && !this.controller.signal.aborted) {
      await this.#more.wait();
    }
    this.#credit--;
  }
}

async function load(urls: string[]): Promise<void> {
  try {
    for (const url of urls) modules.set(url, await import(url));
  } catch (err) {
    return port.post({ type: "load-error", error: describeError(err) });
  }
  const exports = [...modules].flatMap(([url, module]) =>
    Object.entries(module)
      .filter(([, value]) => typeof value === "function")
      .map(([name, fn]) => ({ url, name, source: Function.prototype.toString.call(fn) }))
  );
  port.post({ type: "ready", exports });
}

// Posts a value or item; one the structured clone cannot copy becomes the call's error instead.
function post(id: number, type: "value" | "item", value: unknown): void {
  const transfer: ArrayBuffer[] = [];
  try {
    port.post({ type, id, value: detachBinary(value, transfer) }, transfer);
  } catch (err) {
    const { name, message: reason } = describeError(err);
    const message = `the ${type} cannot be sent from the worker: ${reason}`;
    port.post({ type: "error", id, error: { name, message } });
  }
}

// Runs the function and, for a stream, drives it to its end or until the call is cancelled.
async function execute({ id, url, name, args }: CallMessage, call: RunningCall): Promise<void> {
  const { signal } = call.controller;
  try {
    const fn = modules.get(url)?.[name] as (...args: unknown[]) => unknown;
    const result = await fn(...args);
    if (!isAsyncIterable(result)) return post(id, "value", result);
    port.post({ type: "stream", id });
    for await (const item of result) {
      // Leaving the loop runs the generator's `finally`; a stream cut short did not end.
      if (signal.aborted) throw new RpcUnavailableException("the call was cancelled");
      post(id, "item", item);
      // The generator is not advanced past what the pool's reader has room for.
      await call.spend();
      if (signal.aborted) throw new RpcUnavailableException("the call was cancelled");
    }
    port.post({ type: "end", id });
  } catch (err) {
    port.post({ type: "error", id, error: describeError(err) });
  }
}

async function serve(message: CallMessage): Promise<void> {
  const call = new RunningCall();
  running.set(message.id, call);
  try {
    // The whole run, stream included, is inside runInCall: a generator's body runs in whoever
    // calls next(), so iterating outside would lose the context.
    const run = () => execute(message, call);
    const { signal } = call.controller;
    const context = message.context && { ...message.context, signal };
    await (context ? runInCall(context, run) : run());
  } finally {
    running.delete(message.id);
  }
}

port.onMessage((data) => {
  const message = data as ToWorker;
  if (message.type === "load") load(message.urls);
  else if (message.type === "call") serve(message);
  else if (message.type === "credit") running.get(message.id)?.grant(message.items);
  else running.get(message.id)?.cancel();
});
