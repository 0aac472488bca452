/**
 * Node's implementation of the runtime seam in `runtime.ts` (node:worker_threads, process
 * signals, node:fs). The npm build puts it in place of `runtime.deno.ts`.
 *
 * @module
 */
import { readFile } from "node:fs/promises";
import os from "node:os";
import process from "node:process";
import { parentPort as nodeParentPort, Worker } from "node:worker_threads";
import type { ParentPort, Runtime, WorkerEvents, WorkerHandle } from "./runtime.ts";

/** Calls `handler` on SIGINT or SIGTERM; returns a function that stops listening for them. */
export function onShutdownSignal(handler: () => void): () => void {
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

/**
 * Starts a worker thread running `url`. A worker that exits on its own (`process.exit()`) or
 * runs out of memory is reported as failed.
 */
export function spawnWorker(url: URL, events: WorkerEvents, memoryLimit?: number): WorkerHandle {
  const worker = new Worker(
    url,
    memoryLimit ? { resourceLimits: { maxOldGenerationSizeMb: memoryLimit } } : {},
  );
  // A death is reported once: Node emits "error" and then "exit" for the same one.
  let done = false;
  const fail = (message: string) => {
    if (!done) events.onError(message);
    done = true;
  };
  worker.on("message", (data) => events.onMessage(data));
  worker.on("error", (err: Error) => fail(err.message));
  worker.on("exit", (code) => fail(`the worker exited with code ${code}`));
  return {
    post: (message, transfer = []) => worker.postMessage(message, transfer),
    terminate() {
      done = true;
      void worker.terminate();
    },
  };
}

/** The channel to the parent, from inside a worker. */
export function parentPort(): ParentPort {
  const port = nodeParentPort;
  if (!port) throw new Error("not running in a worker thread");
  return {
    post: (message, transfer = []) => port.postMessage(message, transfer),
    onMessage: (handler) => void port.on("message", handler),
  };
}

/** The text of the module at `url` (file: or http(s):). */
export async function readText(url: URL): Promise<string> {
  if (url.protocol === "file:") return await readFile(url, "utf8");
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not read ${url}: ${response.status}`);
  return await response.text();
}

/** How many threads can run at once: the default size of the worker pool. */
export function hardwareConcurrency(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}

const _implements: Runtime = {
  onShutdownSignal,
  spawnWorker,
  parentPort,
  readText,
  hardwareConcurrency,
};
