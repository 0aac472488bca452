/**
 * `registerModule`: every exported function of a module becomes a method, run inline or in the
 * worker pool, with its signature from the declaration and its help from its JSDoc comment.
 *
 * @module
 */
import { callContext } from "../call/call_context.ts";
import { readText } from "../platform/runtime.deno.ts";
import { type Handler, isAsync, type Registry } from "./registry.ts";
import { exportDocs, parametersOf, parametersOfSource } from "./source_info.ts";
import { WorkerPool } from "../pool/worker_pool.ts";
import type { Logger } from "../util/logger.ts";

/** Options of `registerModule`. */
export interface ModuleOptions {
  /** `"pool"` (default) runs calls in worker threads; `"inline"` on the server's event loop. */
  executor?: "pool" | "inline";
  /** Names become `prefix.name`. Default: none, names are the export names. */
  prefix?: string;
}

/** A module waiting to be loaded at `listen()`. */
export interface RegisteredModule {
  /** The module's URL. */
  url: string;
  /** How it was registered. */
  options: ModuleOptions;
}

function methodName(name: string, options: ModuleOptions): string {
  return options.prefix ? `${options.prefix}.${name}` : name;
}

async function loadInline(registry: Registry, { url, options }: RegisteredModule): Promise<void> {
  const [module, docs] = await Promise.all([import(url), readText(new URL(url)).then(exportDocs)]);
  for (const [name, fn] of Object.entries(module)) {
    if (typeof fn !== "function") continue;
    registry.addMethod({
      name: methodName(name, options),
      run: (args) => fn(...args),
      async: isAsync(fn as Handler),
      parameters: parametersOf(fn as (...args: never[]) => unknown),
      help: docs.get(name) ?? "",
    });
  }
}

/**
 * Loads `modules` into `registry`. Pool modules are imported only inside the workers; returns
 * the started pool, if any module needs one, which reports its workers' deaths and restarts to
 * `logger` (default: the console).
 */
export async function loadModules(
  registry: Registry,
  modules: RegisteredModule[],
  workers: number,
  memoryLimit?: number,
  logger?: Logger,
): Promise<WorkerPool | undefined> {
  for (const module of modules.filter((m) => m.options.executor === "inline")) {
    await loadInline(registry, module);
  }
  const pooled = modules.filter((m) => m.options.executor !== "inline");
  if (pooled.length === 0) return undefined;
  const urls = [...new Set(pooled.map((m) => m.url))];
  const pool = new WorkerPool({ size: workers, urls, memoryLimit, logger });
  const exports = await pool.start();
  try {
    const docs = new Map(
      await Promise.all(
        urls.map(async (url) => [url, exportDocs(await readText(new URL(url)))] as const),
      ),
    );
    // One method per export per registration: a module may be registered under two prefixes.
    for (const { url, options } of pooled) {
      for (const { name, source } of exports.filter((e) => e.url === url)) {
        registry.addMethod({
          name: methodName(name, options),
          // The worker runs the call in a context of its own; here it is read at once.
          run: (args) => pool.run(url, name, args, callContext()),
          async: false,
          parameters: parametersOfSource(source),
          help: docs.get(url)?.get(name) ?? "",
        });
      }
    }
  } catch (err) {
    await pool.close();
    throw err;
  }
  return pool;
}
