/**
 * Reads a function's declared parameters from its source text, so that named arguments (a
 * Python client's `KWARGS`) can bind to them and `system.methodSignature` can show them.
 *
 * @module
 */
import { ParamError } from "../protocol/errors.ts";

/** One declared parameter. */
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

const OPEN = "([{";
const CLOSE = ")]}";
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

// Returns the index just past the string, template or comment starting at `i`, or `i` if none.
function skipLiteral(src: string, i: number): number {
  const c = src[i];
  if (c === "/" && src[i + 1] === "/") {
    return src.indexOf("\n", i) === -1 ? src.length : src.indexOf("\n", i);
  }
  if (c === "/" && src[i + 1] === "*") return src.indexOf("*/", i + 2) + 2;
  if (c !== '"' && c !== "'" && c !== "`") return i;
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === "\\") j++;
    else if (src[j] === c) return j + 1;
  }
  return src.length;
}

// Splits the text between the parameter list's parentheses at top-level commas.
function splitTopLevel(src: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const skipped = skipLiteral(src, i);
    if (skipped !== i) {
      i = skipped - 1;
      continue;
    }
    if (OPEN.includes(src[i])) depth++;
    else if (CLOSE.includes(src[i])) depth--;
    else if (src[i] === "," && depth === 0) {
      parts.push(src.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(src.slice(start));
  return parts.map((part) =>
    part.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "").replace(/\s+/g, " ").trim()
  )
    .filter((part) => part !== "");
}

// The text of the parameter list of a function's source, without the parentheses.
function parameterText(src: string): string {
  const arrow = /^(?:async\s*)?([A-Za-z_$][\w$]*)\s*=>/.exec(src);
  if (arrow) return arrow[1];
  const open = src.indexOf("(");
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const skipped = skipLiteral(src, i);
    if (skipped !== i) {
      i = skipped - 1;
      continue;
    }
    if (OPEN.includes(src[i])) depth++;
    else if (CLOSE.includes(src[i]) && --depth === 0) return src.slice(open + 1, i);
  }
  return "";
}

function parseParameter(text: string): Parameter {
  const rest = text.startsWith("...");
  const body = rest ? text.slice(3).trim() : text;
  const eq = splitAssignment(body);
  const target = eq === -1 ? body : body.slice(0, eq).trim();
  return {
    name: IDENTIFIER.test(target) ? target : undefined,
    text,
    optional: eq !== -1,
    rest,
  };
}

// The index of the top-level `=` of a default value, or -1.
function splitAssignment(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (OPEN.includes(text[i])) depth++;
    else if (CLOSE.includes(text[i])) depth--;
    else if (text[i] === "=" && depth === 0 && text[i + 1] !== ">" && text[i + 1] !== "=") return i;
  }
  return -1;
}

/** The declared parameters of `fn`, read from its source. */
export function parametersOf(fn: (...args: never[]) => unknown): Parameter[] {
  return parametersOfSource(Function.prototype.toString.call(fn));
}

/** The declared parameters of a function, from its source text (`fn.toString()`). */
export function parametersOfSource(source: string): Parameter[] {
  // Bound and built-in functions hide their parameters: accept any positional arguments.
  if (source.endsWith("{ [native code] }")) {
    return [{ name: "args", text: "...args", optional: false, rest: true }];
  }
  return splitTopLevel(parameterText(source)).map(parseParameter);
}

/** The parameter list as `system.methodSignature` shows it, e.g. `"(a, b = 2, ...rest)"`. */
export function formatSignature(parameters: Parameter[]): string {
  return `(${parameters.map((p) => p.text).join(", ")})`;
}

/**
 * Binds positional `args` and named `kwargs` to `parameters` the way Python does, returning the
 * positional argument list to call with. Unknown names, a name given twice, missing required
 * arguments and surplus arguments are a {@linkcode ParamError}.
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
