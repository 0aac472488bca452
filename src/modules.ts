/**
 * `registerModule`: every exported function of a module becomes a method, run inline or in the
 * worker pool, with its signature from the declaration and its help from its JSDoc comment.
 *
 * @module
 */
import { exportDocs } from "./jsdoc.ts";
import { readText } from "./platform.deno.ts";
import type { Registry } from "./registry.ts";
import { parametersOf, parametersOfSource } from "./signature.ts";
import { WorkerPool } from "./worker_pool.ts";

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
      parameters: parametersOf(fn as (...args: never[]) => unknown),
      help: docs.get(name) ?? "",
    });
  }
}

/**
 * Loads `modules` into `registry`. Pool modules are imported only inside the workers; returns
 * the started pool, if any module needs one.
 */
export async function loadModules(
  registry: Registry,
  modules: RegisteredModule[],
  workers: number,
  memoryLimit?: number,
): Promise<WorkerPool | undefined> {
  for (const module of modules.filter((m) => m.options.executor === "inline")) {
    await loadInline(registry, module);
  }
  const pooled = modules.filter((m) => m.options.executor !== "inline");
  if (pooled.length === 0) return undefined;
  const pool = new WorkerPool(workers, pooled.map((m) => m.url), memoryLimit);
  const exports = await pool.start();
  try {
    const docs = new Map(
      await Promise.all(
        pooled.map(async (m) => [m.url, exportDocs(await readText(new URL(m.url)))] as const),
      ),
    );
    for (const { url, name, source } of exports) {
      const { options } = pooled.find((m) => m.url === url)!;
      registry.addMethod({
        name: methodName(name, options),
        run: (args, signal) => pool.run(url, name, args, signal),
        parameters: parametersOfSource(source),
        help: docs.get(url)?.get(name) ?? "",
      });
    }
  } catch (err) {
    await pool.close();
    throw err;
  }
  return pool;
}
