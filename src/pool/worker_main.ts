/**
 * The entry point of a pool worker: loads the registered modules, describes their exports, and
 * runs one call at a time, streaming the items of an async iterable result.
 *
 * @module
 */
import { parentPort } from "../platform/runtime.deno.ts";
import type { ToWorker } from "./worker_messages.ts";
import { describeError, detachBinary } from "./worker_messages.ts";

const port = parentPort();
const modules = new Map<string, Record<string, unknown>>();
const cancelled = new Set<number>();

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
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

async function call(id: number, url: string, name: string, args: unknown[]): Promise<void> {
  try {
    const fn = modules.get(url)?.[name] as (...args: unknown[]) => unknown;
    const result = await fn(...args);
    if (!isAsyncIterable(result)) return post(id, "value", result);
    port.post({ type: "stream", id });
    for await (const item of result) {
      if (cancelled.delete(id)) return port.post({ type: "end", id });
      post(id, "item", item);
    }
    port.post({ type: "end", id });
  } catch (err) {
    port.post({ type: "error", id, error: describeError(err) });
  }
}

port.onMessage((data) => {
  const message = data as ToWorker;
  if (message.type === "load") load(message.urls);
  else if (message.type === "call") call(message.id, message.url, message.name, message.args);
  else cancelled.add(message.id);
});
