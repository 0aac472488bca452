/**
 * The method table: registered functions and instance methods, with what introspection and
 * argument binding need to know about each.
 *
 * @module
 */
import { formatSignature, type Parameter } from "./signature.ts";
import { parametersOf, prototypeDocs } from "./source_info.ts";

/** Any function that can be registered: plain, async, or async generator. */
// deno-lint-ignore no-explicit-any
export type Handler = (...args: any[]) => unknown;

/** Options of `registerFunction`. */
export interface MethodOptions {
  /** The method's name on the wire. Default: the function's own name. */
  name?: string;
  /** The text `system.methodHelp` returns. Default: `""`. */
  help?: string;
}

/** Options of `registerInstance`. */
export interface InstanceOptions {
  /** Names become `prefix.method`. Default: none, names are the bare method names. */
  prefix?: string;
}

/** A registered method. */
export interface Method {
  /** The name on the wire. */
  name: string;
  /**
   * Runs the method with bound positional arguments, inside the call's context (see
   * `callContext()`, which tells its caller, ID and abort signal).
   */
  run(args: unknown[]): unknown;
  /**
   * Whether the handler goes on after it returns (an `async` function or generator): its call
   * then runs in an `AsyncLocalStorage` frame, so that `callContext()` holds across its awaits.
   * A plain function sees its context during its synchronous run, at no cost.
   */
  async: boolean;
  /** Its declared parameters. */
  parameters: Parameter[];
  /** `system.methodHelp` text. */
  help: string;
}

const ASYNC_KINDS = new Set(["AsyncFunction", "AsyncGeneratorFunction"]);

/** Whether `fn` is an `async` function or an `async` generator function. */
export function isAsync(fn: Handler): boolean {
  return ASYNC_KINDS.has(Object.getPrototypeOf(fn)?.constructor?.name);
}

/** Names reserved for the server's own methods. */
export const SYSTEM_PREFIX = "system.";

/** The table of callable methods. */
export class Registry {
  readonly #methods = new Map<string, Method>();

  /** Adds `fn` under `options.name` or its own name; a name registered twice is an error. */
  add(fn: Handler, options: MethodOptions = {}, internal = false): void {
    if (typeof fn !== "function") throw new TypeError("registerFunction expects a function");
    const name = options.name ?? fn.name;
    if (!name) throw new TypeError("an anonymous function needs options.name");
    if (!internal && name.startsWith(SYSTEM_PREFIX)) {
      throw new TypeError(`'${name}': names starting with '${SYSTEM_PREFIX}' are reserved`);
    }
    this.addMethod({
      name,
      run: (args) => fn(...args),
      async: isAsync(fn),
      parameters: parametersOf(fn),
      help: options.help ?? "",
    });
  }

  /** Adds a method built elsewhere (a worker pool's); a name registered twice is an error. */
  addMethod(method: Method): void {
    if (this.#methods.has(method.name)) {
      throw new TypeError(`a method named '${method.name}' is already registered`);
    }
    this.#methods.set(method.name, method);
  }

  /**
   * Adds the public methods of `instance`'s class chain: never `constructor`, anything of
   * `Object.prototype`, accessors, symbols, or names starting with `_`.
   */
  addInstance(instance: object, options: InstanceOptions = {}): void {
    const seen = new Set<string>();
    for (
      let proto = Object.getPrototypeOf(instance);
      proto !== null && proto !== Object.prototype;
      proto = Object.getPrototypeOf(proto)
    ) {
      const docs = prototypeDocs(proto);
      for (const [key, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
        if (key === "constructor" || key.startsWith("_") || seen.has(key)) continue;
        seen.add(key);
        if (typeof descriptor.value !== "function") continue;
        const fn: Handler = descriptor.value;
        this.addMethod({
          name: options.prefix ? `${options.prefix}.${key}` : key,
          run: (args) => fn.apply(instance, args),
          async: isAsync(fn),
          parameters: parametersOf(fn),
          help: docs.get(key) ?? "",
        });
      }
    }
  }

  /** The method called `name`, if any. */
  get(name: string): Method | undefined {
    return this.#methods.get(name);
  }

  /** Every method name, sorted. */
  names(): string[] {
    return [...this.#methods.keys()].sort();
  }

  /** `system.methodSignature` text for `name`; `""` if unknown. */
  signature(name: string): string {
    const method = this.#methods.get(name);
    return method ? formatSignature(method.parameters) : "";
  }
}
