/**
 * A pool of worker threads that run the functions of registered modules, one call per worker at
 * a time, so CPU-heavy calls never block the server's event loop.
 *
 * @module
 */
import type { CallContext } from "../call/call_context.ts";
import { CallState } from "../call/call_state.ts";
import { type Deferred, deferred } from "../util/deferred.ts";
import { consoleLogger, type Logger } from "../util/logger.ts";
import {
  errorFromCode,
  type MprpcError,
  RPCRuntimeError,
  RpcUnavailableException,
} from "../protocol/errors.ts";
import { spawnWorker } from "../platform/runtime.deno.ts";
import type { WorkerHandle } from "../platform/runtime.ts";
import {
  type ErrorDescription,
  type FromWorker,
  STREAM_WINDOW,
  type ToWorker,
  type WorkerCallContext,
  type WorkerExport,
} from "./worker_messages.ts";

const WORKER_URL = new URL("./worker_main.ts", import.meta.url);
/** The wait before the first retry of a replacement worker that failed to start. */
const RESPAWN_FIRST_MS = 100;
/** The longest wait between two retries: the backoff doubles up to it. */
const RESPAWN_MAX_MS = 30_000;

/** Options of a {@linkcode WorkerPool}. */
export interface WorkerPoolOptions {
  /** How many workers run calls (at least one). */
  size: number;
  /** The modules every worker loads. */
  urls: string[];
  /** Each worker's heap limit in MB; a platform that cannot limit it refuses the option. */
  memoryLimit?: number;
  /** Where workers that die, fail to start or recover are reported. Default: the console. */
  logger?: Logger;
}

interface Task {
  readonly id: number;
  readonly url: string;
  readonly name: string;
  readonly args: unknown[];
  readonly context?: CallContext;
  /** The outcome, as the worker reports it. */
  readonly call: CallState;
  /** Stops listening to the context's signal: called once, when the task leaves the pool. */
  readonly detach: () => void;
  /** The worker it was dispatched to. */
  worker?: PoolWorker;
  /** Stream items the reader took since the last credit sent to the worker. */
  taken: number;
}

interface PoolWorker {
  readonly handle: WorkerHandle;
  /** Resolves once the worker has loaded the modules; rejects if it is lost before that. */
  readonly started: Deferred<WorkerExport[]>;
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

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The context's cloneable part (a signal cannot cross threads; the worker makes its own). */
function describeContext(
  { id, method, peer, user, certificate }: CallContext,
): WorkerCallContext {
  return { id, method, peer, user, ...certificate && { certificate } };
}

/**
 * Runs exported functions of `urls` in `size` workers.
 *
 * A worker that dies is replaced at once. A replacement that fails to load or to start is
 * retried after 100 ms, then after a wait that doubles each time up to 30 s, until it starts or
 * the pool is closed. While no worker is ready and a replacement keeps failing, queued and new
 * calls fail at once with `RpcUnavailableException` naming the last start failure, rather than
 * wait for a worker that may never come. The logger reports `pool worker died` (warn),
 * `pool worker failed to start` (error, with `retryInMs`) and `pool worker recovered` (info).
 *
 * @example Not run as a doc test: it needs a module file beside the caller
 * ```ts ignore
 * import assert from "node:assert/strict";
 * const urls = [new URL("./handlers.ts", import.meta.url).href];
 * const pool = new WorkerPool({ size: 2, urls });
 * const exports = await pool.start();
 * assert.equal(await pool.run(exports[0].url, "fib", [30]), 832040);
 * await pool.close();
 * ```
 */
export class WorkerPool {
  readonly #size: number;
  readonly #urls: string[];
  readonly #memoryLimit?: number;
  readonly #logger: Logger;
  readonly #workers = new Set<PoolWorker>();
  readonly #queue: Task[] = [];
  /** Pending retries of replacements; `close()` clears them. */
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** Replacements that failed to start and have not started since. */
  #failing = 0;
  #lastFailure?: Error;
  #nextId = 0;
  #closed = false;

  /**
   * Creates a pool of `size` workers for the modules at `urls`; nothing runs before
   * {@linkcode WorkerPool.start}.
   */
  constructor({ size, urls, memoryLimit, logger = consoleLogger }: WorkerPoolOptions) {
    this.#size = Math.max(1, size);
    this.#urls = urls;
    this.#memoryLimit = memoryLimit;
    this.#logger = logger;
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
    try {
      const [exports] = await Promise.all(Array.from({ length: this.#size }, () => this.#spawn()));
      return exports;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /**
   * Runs export `name` of module `url` as serving the call `context`; resolves to its value, or
   * to an `AsyncIterable` of its items if it returned an async iterable. When the context's
   * signal aborts, a queued call is dropped and a running one is cancelled: the signal of
   * `callContext()` in the worker aborts too. Rejects at once with `RpcUnavailableException`
   * once the pool is closed, or while it has no worker and replacements fail to start.
   */
  run(url: string, name: string, args: unknown[], context?: CallContext): Promise<unknown> {
    const refusal = this.#closed
      ? new RpcUnavailableException("the worker pool is closed")
      : context?.signal.aborted
      ? new RpcUnavailableException("the client disconnected before the call started")
      : this.#outage();
    if (refusal) return Promise.reject(refusal);
    const signal = context?.signal;
    const onAbort = () => this.#abort(task);
    const task: Task = {
      id: this.#nextId++,
      url,
      name,
      args,
      context,
      call: new CallState(),
      taken: 0,
      detach: () => signal?.removeEventListener("abort", onAbort),
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#queue.push(task);
    this.#dispatch();
    return task.call.result;
  }

  /**
   * Stops every worker and every pending retry; running and queued calls fail with
   * `RpcUnavailableException`. A closed pool never starts a worker again.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const error = new RpcUnavailableException("the worker pool was closed");
    for (const task of this.#queue.splice(0)) this.#fail(task, error);
    for (const worker of this.#workers) {
      if (worker.task) this.#fail(worker.task, error);
      worker.started.reject(error); // a no-op once it has started
      worker.handle.terminate();
    }
    this.#workers.clear();
    return Promise.resolve();
  }

  /** Starts one worker; the promise settles when it is ready or lost before that. */
  #spawn(): Promise<WorkerExport[]> {
    const started = deferred<WorkerExport[]>();
    let handle: WorkerHandle;
    try {
      // Events arrive asynchronously, so `worker` is assigned before any of them.
      handle = spawnWorker(WORKER_URL, {
        onMessage: (data) => this.#receive(worker, data as FromWorker),
        onError: (message) => this.#lost(worker, message),
      }, this.#memoryLimit);
    } catch (err) {
      return Promise.reject(err);
    }
    const worker: PoolWorker = { handle, started, ready: false };
    this.#workers.add(worker);
    handle.post({ type: "load", urls: this.#urls } satisfies ToWorker);
    return started.promise;
  }

  #receive(worker: PoolWorker, message: FromWorker): void {
    if (!this.#workers.has(worker)) return; // a late message from a worker already let go
    switch (message.type) {
      case "ready":
        worker.ready = true;
        worker.started.resolve(message.exports);
        return this.#dispatch();
      case "load-error":
        return this.#lost(worker, rebuildError(message.error));
      case "closing":
        return this.#lost(worker, "it called self.close()");
      default:
        return this.#deliver(worker, message);
    }
  }

  #dispatch(): void {
    for (const worker of this.#workers) {
      if (this.#queue.length === 0) return;
      if (!worker.ready || worker.task) continue;
      const task = this.#queue.shift()!;
      worker.task = task;
      task.worker = worker;
      const { id, url, name, args } = task;
      const context = task.context && describeContext(task.context);
      worker.handle.post({ type: "call", id, url, name, args, context } satisfies ToWorker);
    }
  }

  #deliver(worker: PoolWorker, message: Extract<FromWorker, { id: number }>): void {
    const task = worker.task;
    if (!task || task.id !== message.id) return;
    switch (message.type) {
      case "value":
        task.call.value(message.value);
        return this.#finish(worker);
      case "stream":
        return void task.call.open(() => this.#cancel(task), () => this.#took(task));
      case "item":
        return void task.call.item(message.value);
      case "end":
        task.call.end();
        return this.#finish(worker);
      case "error":
        task.call.fail(rebuildError(message.error));
        return this.#finish(worker);
    }
  }

  #finish(worker: PoolWorker): void {
    worker.task?.detach();
    worker.task = undefined;
    this.#dispatch();
  }

  // The call's outcome is no longer wanted. A queued call is dropped; a running one is told to
  // stop and keeps its worker until the worker answers, so the worker is never double-booked.
  #abort(task: Task): void {
    if (task.worker) return this.#cancel(task);
    const at = this.#queue.indexOf(task);
    if (at === -1) return;
    this.#queue.splice(at, 1);
    this.#fail(
      task,
      new RpcUnavailableException("the client disconnected before the call started"),
    );
  }

  #cancel(task: Task): void {
    const worker = task.worker;
    if (worker?.task === task) {
      worker.handle.post({ type: "cancel", id: task.id } satisfies ToWorker);
    }
  }

  // The stream's reader took an item: let the worker send as many again, half a window at a time.
  #took(task: Task): void {
    if (++task.taken < STREAM_WINDOW / 2 || task.worker?.task !== task) return;
    const items = task.taken;
    task.taken = 0;
    task.worker.handle.post({ type: "credit", id: task.id, items } satisfies ToWorker);
  }

  #fail(task: Task, error: MprpcError): void {
    task.call.fail(error);
    task.detach();
  }

  // A worker ended or failed. Before it was ready, its start fails and whoever started it
  // decides what follows; after, its call fails and a replacement starts.
  #lost(worker: PoolWorker, cause: string | MprpcError): void {
    if (!this.#workers.delete(worker)) return; // already let go
    worker.handle.terminate();
    if (!worker.ready) {
      const error = typeof cause === "string"
        ? new RPCRuntimeError(`a worker failed to start: ${cause}`)
        : cause;
      return worker.started.reject(error);
    }
    const reason = typeof cause === "string" ? cause : cause.message;
    const task = worker.task;
    this.#logger.warn("pool worker died", { reason, method: task?.name });
    if (task) {
      const message = `the worker running '${task.name}' died (${reason}); it is being replaced`;
      this.#fail(task, new RPCRuntimeError(message, { exception: "WorkerDied" }));
    }
    this.#respawn(0);
    this.#refuseIfDown();
  }

  // Starts a worker in place of a lost one; `attempt` counts the failures before this try.
  #respawn(attempt: number): void {
    if (this.#closed) return;
    this.#spawn().then(
      () => this.#respawned(attempt),
      (error: unknown) => this.#respawnFailed(attempt, asError(error)),
    );
  }

  #respawned(attempt: number): void {
    if (attempt === 0 || this.#closed) return;
    this.#failing--;
    this.#logger.info("pool worker recovered", { attempts: attempt + 1 });
  }

  #respawnFailed(attempt: number, error: Error): void {
    if (this.#closed) return;
    if (attempt === 0) this.#failing++;
    this.#lastFailure = error;
    const retryInMs = Math.min(RESPAWN_FIRST_MS * 2 ** attempt, RESPAWN_MAX_MS);
    this.#logger.error("pool worker failed to start", {
      error: error.message,
      attempts: attempt + 1,
      retryInMs,
    });
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#respawn(attempt + 1);
    }, retryInMs);
    this.#timers.add(timer);
    this.#refuseIfDown();
  }

  /** Why no call can run now: no worker is ready, and replacements keep failing to start. */
  #outage(): MprpcError | undefined {
    if (this.#failing === 0 || [...this.#workers].some((worker) => worker.ready)) return undefined;
    const reason = this.#lastFailure?.message;
    return new RpcUnavailableException(
      `the worker pool has no workers: a replacement failed to start (${reason}); retrying`,
      { cause: this.#lastFailure },
    );
  }

  // Queued calls would wait for a worker that may never come: during an outage they fail now.
  #refuseIfDown(): void {
    const outage = this.#outage();
    if (!outage) return;
    for (const task of this.#queue.splice(0)) this.#fail(task, outage);
  }
}
