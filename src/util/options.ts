/**
 * Checking option objects at run time, for callers in plain JavaScript whose typos the type
 * checker never sees.
 *
 * @module
 */

/**
 * Throws a `TypeError` naming the first key of `options` that is not in `known`, so that a typo
 * (`heart_beat: 40`) fails loudly instead of being ignored. Keys whose value is `undefined` are
 * checked too: `{ timout: undefined }` is still a typo.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkOptions } from "./options.ts";
 * checkOptions("ClientOptions", { heartbeat: 40 }, ["heartbeat", "timeout"]);
 * assert.throws(
 *   () => checkOptions("ClientOptions", { heart_beat: 40 }, ["heartbeat", "timeout"]),
 *   /unknown ClientOptions option 'heart_beat' \(known: heartbeat, timeout\)/,
 * );
 * ```
 */
export function checkOptions(
  kind: string,
  options: object | undefined,
  known: readonly string[],
): void {
  if (options === undefined) return;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${kind} must be an object, not ${options === null ? "null" : typeof options}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`unknown ${kind} option '${key}' (known: ${known.join(", ")})`);
    }
  }
}

/**
 * The option names of `T`, for {@linkcode checkOptions}. Given as an object with every key of
 * `T` (the type checker rejects a missing or extra one), so the list cannot drift from the type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { optionNames } from "./options.ts";
 * interface Options {
 *   port?: number;
 *   debug?: boolean;
 * }
 * assert.deepEqual(optionNames<Options>({ port: true, debug: true }), ["port", "debug"]);
 * ```
 */
export function optionNames<T extends object>(names: Record<keyof T, true>): readonly string[] {
  return Object.keys(names);
}
