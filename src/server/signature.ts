/**
 * A function's declared parameters (read from its source by `source_info.ts`): binding named
 * arguments (a Python client's `KWARGS`) to them, and showing them in `system.methodSignature`.
 *
 * @module
 */
import { ParamError } from "../protocol/errors.ts";

/**
 * One declared parameter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Parameter } from "./signature.ts";
 * import { parametersOf } from "./source_info.ts";
 *
 * const b: Parameter = { name: "b", text: "b = 2", optional: true, rest: false };
 * assert.deepEqual(parametersOf((a: number, b = 2) => a + b)[1], b);
 * ```
 */
export interface Parameter {
  /** The parameter's name; `undefined` for a destructuring pattern, which only binds by position. */
  name?: string;
  /** The parameter as declared, e.g. `b = 2` or `...rest`. */
  text: string;
  /** Whether it has a default value. */
  optional: boolean;
  /** Whether it is a rest parameter (`...rest`). */
  rest: boolean;
}

/**
 * The parameter list as `system.methodSignature` shows it, e.g. `"(a, b = 2, ...rest)"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSignature } from "./signature.ts";
 * import { parametersOfSource } from "./source_info.ts";
 *
 * const parameters = parametersOfSource("function f(a, /* two *\/ b  =  2, ...rest) {}");
 * assert.equal(formatSignature(parameters), "(a, b = 2, ...rest)");
 * ```
 */
export function formatSignature(parameters: Parameter[]): string {
  return `(${parameters.map((p) => p.text).join(", ")})`;
}

/**
 * Binds positional `args` and named `kwargs` to `parameters` the way Python does, returning the
 * positional argument list to call with. Unknown names, a name given twice, missing required
 * arguments and surplus arguments are a {@linkcode ParamError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bindArguments } from "./signature.ts";
 * import { parametersOfSource } from "./source_info.ts";
 *
 * const parameters = parametersOfSource("function f(a, b = 2, c = 3) {}");
 * assert.deepEqual(bindArguments(parameters, [1], { b: 5 }), [1, 5]);
 * assert.throws(() => bindArguments(parameters, [1], { d: 5 }), /unexpected keyword argument 'd'/);
 * assert.throws(() => bindArguments(parameters, [], { b: 1 }), /missing required argument/);
 * ```
 */
export function bindArguments(
  parameters: Parameter[],
  args: unknown[],
  kwargs: Record<string, unknown>,
): unknown[] {
  const restAt = parameters.findIndex((p) => p.rest);
  const positional = restAt === -1 ? parameters.length : restAt;
  if (restAt === -1 && args.length > positional) {
    throw new ParamError(
      `takes ${positional} positional argument(s) but ${args.length} were given`,
    );
  }
  const names = Object.keys(kwargs);
  if (names.length === 0 && args.length >= requiredCount(parameters)) return args;
  const bound = args.slice();
  const given = new Set<number>();
  for (const name of names) {
    const index = parameters.findIndex((p) => p.name === name && !p.rest);
    if (index === -1) throw new ParamError(`got an unexpected keyword argument '${name}'`);
    if (index < args.length) throw new ParamError(`got multiple values for argument '${name}'`);
    bound[index] = kwargs[name];
    given.add(index);
  }
  const missing = parameters.filter((p, i) =>
    !p.optional && !p.rest && i >= args.length && !given.has(i)
  );
  if (missing.length > 0) {
    const list = missing.map((p) => `'${p.name ?? p.text}'`).join(", ");
    throw new ParamError(`missing required argument(s): ${list}`);
  }
  return bound;
}

function requiredCount(parameters: Parameter[]): number {
  let count = 0;
  parameters.forEach((p, i) => {
    if (!p.optional && !p.rest) count = i + 1;
  });
  return count;
}
