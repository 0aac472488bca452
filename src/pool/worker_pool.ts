/**
 * A pool of worker threads that run the functions of registered modules, one call per worker at
 * a time, so CPU-heavy calls never block the server's event loop.
 *
 * @module
 */
import { deferred } from "../util/deferred.ts";
import {
  errorFromCode,
  type MprpcError,
  RPCRuntimeError,
  RpcUnavailableException,
} from "../protocol/errors.ts";
import { ItemStream } from "../call/item_stream.ts";
import { spawnWorker } from "../platform/runtime.deno.ts";
import type { WorkerHandle } from "../platform/runtime.ts";
import type { ErrorDescription, FromWorker, ToWorker, WorkerExport } from "./worker_messages.ts";

const WORKER_URL = new URL("./worker_main.ts", import.meta.url);

interface Task {
  id: number;
  url: string;
  name: string;
  args: unknown[];
  resolve(value: unknown): void;
  reject(error: MprpcError): void;
  stream?: ItemStream;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface PoolWorker {
  handle: WorkerHandle;
  ready: boolean;
  task?: Task;
}

/** Rebuilds an error thrown in a worker: its code if it was an `MprpcError`, else a 404. */
function rebuildError(error: ErrorDescription): MprpcError {
  const rebuilt = error.code && error.code >= 400 && error.code < 500
    ? errorFromCode(error.code, error.message, { exception: error.name })
    : new RPCRuntimeError(error.message, { exception: error.name });
  if (error.stack) rebuilt.stack = error.stack;
  return rebuilt;
}

/**
 * Runs exported functions of `urls` in `size` workers.
 *
 * @example
 * ```ts ignore
 * const pool = new WorkerPool(2, [new URL("./handlers.ts", import.meta.url).href]);
 * const exports = await pool.start();
 * console.log(await pool.run(exports[0].url, "fib", [30]));
 * await pool.close();
 * ```
 */
export class WorkerPool {
  readonly #size: number;
  readonly #urls: string[];
  readonly #memoryLimit?: number;
  readonly #workers = new Set<PoolWorker>();
  readonly #queue: Task[] = [];
  #nextId = 0;
  #closed = false;

  /**
   * Creates a pool of `size` workers for the modules at `urls`, each with a heap of at most
   * `memoryLimit` MB if given; nothing runs before {@linkcode WorkerPool.start}.
   */
  constructor(size: number, urls: string[], memoryLimit?: number) {
    this.#size = Math.max(1, size);
    this.#urls = urls;
    this.#memoryLimit = memoryLimit;
  }

  /** Calls running in a worker now. */
  get running(): number {
    return [...this.#workers].filter((worker) => worker.task).length;
  }

  /** Calls waiting for a free worker. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Starts the workers and resolves to the exported functions they found; rejects if a module
   * fails to load.
   */
  async start(): Promise<WorkerExport[]> {
    const started = Array.from({ length: this.#size }, () => this.#spawn());
    try {
      const [exports] = await Promise.all(started);
      return exports;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /**
   * Runs export `name` of module `url`; resolves to its value, or to an `AsyncIterable` of its
   * items if it returned an async iterable. A call still queued when `signal` aborts is dropped.
   */
  run(url: string, name: string, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new RpcUnavailableException("the worker pool is closed"));
    }
    return new Promise((resolve, reject) => {
      const task: Task = { id: this.#nextId++, url, name, args, resolve, reject, signal };
      if (signal) {
        task.onAbort = () => this.#drop(task);
        signal.addEventListener("abort", task.onAbort, { once: true });
      }
      this.#queue.push(task);
      this.#dispatch();
    });
  }

  /** Stops every worker; running and queued calls fail with `RpcUnavailableException`. */
  close(): Promise<void> {
    this.#closed = true;
    const error = new RpcUnavailableException("the worker pool was closed");
    for (const task of this.#queue.splice(0)) this.#fail(task, error);
    for (const worker of this.#workers) {
      if (worker.task) this.#fail(worker.task, error);
      worker.handle.terminate();
    }
    this.#workers.clear();
    return Promise.resolve();
  }

  #spawn(): Promise<WorkerExport[]> {
    const { promise, resolve, reject } = deferred<WorkerExport[]>();
    const worker: PoolWorker = {
      ready: false,
      handle: spawnWorker(WORKER_URL, {
        onMessage: (data) => {
          const message = data as FromWorker;
          if (message.type === "ready") {
            worker.ready = true;
            resolve(message.exports);
            this.#dispatch();
          } else if (message.type === "load-error") {
            const error = rebuildError(message.error);
            reject(error);
            this.#retire(worker, error);
          } else if (message.type === "closing") {
            this.#replace(worker, "it called self.close()");
          } else this.#deliver(worker, message);
        },
        onError: (message) => {
          reject(new RPCRuntimeError(`a worker failed to start: ${message}`));
          this.#replace(worker, message);
        },
      }, this.#memoryLimit),
    };
    this.#workers.add(worker);
    worker.handle.post({ type: "load", urls: this.#urls } satisfies ToWorker);
    return promise;
  }

  #dispatch(): void {
    for (const worker of this.#workers) {
      if (this.#queue.length === 0) return;
      if (!worker.ready || worker.task) continue;
      const task = this.#queue.shift()!;
      task.signal?.removeEventListener("abort", task.onAbort!);
      worker.task = task;
      const { id, url, name, args } = task;
      worker.handle.post({ type: "call", id, url, name, args } satisfies ToWorker);
    }
  }

  #deliver(worker: PoolWorker, message: Extract<FromWorker, { id: number }>): void {
    const task = worker.task;
    if (!task || task.id !== message.id) return;
    switch (message.type) {
      case "value":
        task.resolve(message.value);
        return this.#finish(worker);
      case "stream":
        task.stream = new ItemStream(() =>
          worker.handle.post({ type: "cancel", id: task.id } satisfies ToWorker)
        );
        return task.resolve(task.stream);
      case "item":
        return task.stream?.push(message.value);
      case "end":
        task.stream?.end();
        return this.#finish(worker);
      case "error":
        this.#fail(task, rebuildError(message.error));
        return this.#finish(worker);
    }
  }

  #finish(worker: PoolWorker): void {
    worker.task = undefined;
    this.#dispatch();
  }

  // A worker died: fail only its call, and start another in its place.
  #replace(worker: PoolWorker, reason: string): void {
    if (!this.#workers.has(worker)) return;
    const task = worker.task;
    const error = new RPCRuntimeError(
      task ? `the worker running '${task.name}' died (${reason}); it has been replaced` : reason,
      { exception: "WorkerDied" },
    );
    this.#retire(worker, error);
    if (!this.#closed && worker.ready) this.#spawn().catch(() => {});
  }

  #retire(worker: PoolWorker, error: MprpcError): void {
    if (!this.#workers.has(worker)) return;
    if (worker.task) this.#fail(worker.task, error);
    worker.handle.terminate();
    this.#workers.delete(worker);
    this.#dispatch();
  }

  #fail(task: Task, error: MprpcError): void {
    if (task.stream) task.stream.fail(error);
    else task.reject(error);
  }

  #drop(task: Task): void {
    const at = this.#queue.indexOf(task);
    if (at === -1) return;
    this.#queue.splice(at, 1);
    task.reject(new RpcUnavailableException("the client disconnected before the call started"));
  }
}
