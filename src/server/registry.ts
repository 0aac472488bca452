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

function dotted(prefix: string | undefined, name: string): string {
  return prefix ? `${prefix}.${name}` : name;
}

// An object literal's kind, or a null-prototype object: the objects whose own properties are an
// API. Anything else (a class instance, an array, a Map) is not walked as one.
function isPlainObject(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The table of callable methods. */
export class Registry {
  readonly #methods = new Map<string, Method>();
  // The method found last.
  #last?: Method;

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
   * Adds the methods of `instance`. A plain object (an object literal, or one made with a `null`
   * prototype) gives its own enumerable function properties, and each nested plain object its
   * own under a dotted name (`{ math: { add } }` gives `math.add`), `this` being the object that
   * holds the function; any other object gives the public methods of its class chain. Never
   * `constructor`, anything of `Object.prototype`, accessors, symbols, or names starting with `_`.
   */
  addInstance(instance: object, options: InstanceOptions = {}): void {
    if (isPlainObject(instance)) this.#addPlain(instance, options.prefix, new Set());
    else this.#addClassMethods(instance, options.prefix);
  }

  #addClassMethods(instance: object, prefix?: string): void {
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
        this.#addBound(descriptor.value, instance, dotted(prefix, key), docs.get(key) ?? "");
      }
    }
  }

  // `path` holds the objects from the top one down to `object`: one seen again is a cycle, which
  // would never end. The same object under two names is no cycle, and is added under both.
  #addPlain(object: object, prefix: string | undefined, path: Set<object>): void {
    if (path.has(object)) {
      throw new TypeError(`registerInstance: '${prefix}' refers back to an object that holds it`);
    }
    path.add(object);
    for (const key of Object.keys(object)) {
      const { value } = Object.getOwnPropertyDescriptor(object, key)!;
      if (key.startsWith("_")) continue;
      // Comments of an object literal's methods are not in their source text: no help text.
      if (typeof value === "function") this.#addBound(value, object, dotted(prefix, key), "");
      else if (isPlainObject(value)) this.#addPlain(value, dotted(prefix, key), path);
    }
    path.delete(object);
  }

  #addBound(fn: Handler, self: object, name: string, help: string): void {
    this.addMethod({
      name,
      run: (args) => fn.apply(self, args),
      async: isAsync(fn),
      parameters: parametersOf(fn),
      help,
    });
  }

  /** The method called `name`, if any. */
  get(name: string): Method | undefined {
    // Calls come in runs of one method, and a name fresh off the wire costs a Map lookup much
    // more than a comparison (measured: 4% of a pipelined call). Methods are never removed.
    const last = this.#last;
    if (last !== undefined && last.name === name) return last;
    const method = this.#methods.get(name);
    if (method) this.#last = method;
    return method;
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
