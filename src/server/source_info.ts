/**
 * What the server reads from source text, with the acorn parser: a function's declared
 * parameters (so that named arguments can bind to them and `system.methodSignature` can show
 * them), and the JSDoc of a module's exports and of a class's methods (`system.methodHelp`).
 *
 * @module
 */
import {
  type Comment,
  type Expression,
  type FunctionNode,
  type Options,
  parse,
  type Pattern,
  type Program,
  type Token,
  tokenizer,
} from "../../deps.ts";
import type { Parameter } from "./signature.ts";

// Function sources come from `Function.prototype.toString`, which may come from a sloppy script
// (`with`), a module (`import.meta`), or a class (`super.x`, `this.#x` in a method whose class
// is not part of the text): accept them all, since the text is only read, never run.
const FUNCTION_OPTIONS = {
  ecmaVersion: "latest",
  sourceType: "script",
  allowImportExportEverywhere: true,
  allowSuperOutsideMethod: true,
  checkPrivateFields: false,
} satisfies Options;

/** What bound and built-in functions get: they hide their parameters, so any positional ones. */
const ANY_ARGUMENTS: Parameter[] = [{ name: "args", text: "...args", optional: false, rest: true }];

type Unwrap = (expression: Expression) => FunctionNode | undefined;

const functionOf = (node: Expression | Pattern | null | undefined): FunctionNode | undefined =>
  node?.type === "FunctionExpression" || node?.type === "ArrowFunctionExpression"
    ? node
    : undefined;

// A function's `toString()` is not always a program of its own: a method prints as
// `add(a, b) { … }`. Each wrapping makes one form an expression, and the first that parses
// into exactly the expected shape wins (so that a method named `async`, `async(a) {}`, is not
// taken for a call): `(…)` holds a function (declaration sources become expressions),
// generator, async function or arrow; `({ … })` a method, getter, setter or computed-key method
// as an object literal's; `(class { … })` a class element's own text (`static m() {}`, a field
// `f = (x) => x;`); `(class { f = … })` an arrow from a class field that reads `new.target`.
// The newline before the closing bracket ends any trailing line comment.
const WRAPPINGS: [string, string, Unwrap][] = [
  ["(", "\n)", functionOf],
  ["({", "\n})", (e) =>
    e.type === "ObjectExpression" && e.properties.length === 1 &&
      e.properties[0].type === "Property"
      ? functionOf(e.properties[0].value)
      : undefined],
  ["(class {", "\n})", (e) => classElementFunction(e)],
  ["(class { f = ", "\n})", (e) => classElementFunction(e)],
];

function classElementFunction(expression: Expression): FunctionNode | undefined {
  if (expression.type !== "ClassExpression" || expression.body.body.length !== 1) return undefined;
  const element = expression.body.body[0];
  if (element.type === "MethodDefinition") return element.value;
  if (element.type === "PropertyDefinition") return functionOf(element.value);
  return undefined;
}

// The single expression `text` is made of, or undefined if it does not parse as one.
function parseExpression(text: string, options: Options): Expression | undefined {
  let program: Program;
  try {
    program = parse(text, options);
  } catch {
    return undefined;
  }
  const [statement] = program.body;
  return program.body.length === 1 && statement.type === "ExpressionStatement"
    ? statement.expression as Expression
    : undefined;
}

const IDENTIFIER_BOUNDARY = /[\w$+\-\u0080-\uffff]/;

// `tokens` as source text: comments dropped, the space between two tokens one space or none.
function tokenText(text: string, tokens: Token[]): string {
  let out = "";
  tokens.forEach((token, i) => {
    const piece = text.slice(token.start, token.end);
    if (i > 0) {
      const gap = text.slice(tokens[i - 1].end, token.start);
      const glued = IDENTIFIER_BOUNDARY.test(out.at(-1)!) && IDENTIFIER_BOUNDARY.test(piece[0]);
      // A gap is only whitespace and comments; a comment alone keeps tokens apart if it must.
      if (/\s/.test(gap) || (gap !== "" && glued)) out += " ";
    }
    out += piece;
  });
  return out;
}

function toParameter(pattern: Pattern, text: string, tokens: Token[]): Parameter {
  const inside = tokens.filter((t) => t.start >= pattern.start && t.end <= pattern.end);
  const rest = pattern.type === "RestElement";
  const optional = pattern.type === "AssignmentPattern";
  const target = rest ? pattern.argument : optional ? pattern.left : pattern;
  return {
    name: target.type === "Identifier" ? target.name : undefined,
    text: tokenText(text, inside),
    optional,
    rest,
  };
}

/**
 * The declared parameters of a function, from its source text (`Function.prototype.toString`,
 * which is JavaScript: Deno strips TypeScript types). Every form is read: `function`, async and
 * generator functions, arrows with or without parentheses, class and object-literal methods as
 * they print (`add(a, b) { … }`, `async *gen(n) { … }`, `[key](x) { … }`), getters and setters.
 * Bound and built-in functions (`{ [native code] }`), and any source that does not parse, accept
 * any positional arguments: one rest parameter `...args`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parametersOfSource } from "./source_info.ts";
 *
 * const [sep, s] = parametersOfSource("function split(sep = /,/, s) {}");
 * assert.deepEqual(sep, { name: "sep", text: "sep = /,/", optional: true, rest: false });
 * assert.deepEqual(s, { name: "s", text: "s", optional: false, rest: false });
 * assert.deepEqual(
 *   parametersOfSource("async *gen({ x = '}' } = {}, ...more) {}").map((p) => p.name),
 *   [undefined, "more"],
 * );
 * assert.equal(parametersOfSource("function max() { [native code] }")[0].text, "...args");
 * ```
 */
export function parametersOfSource(source: string): Parameter[] {
  if (source.endsWith("{ [native code] }")) return ANY_ARGUMENTS.map((p) => ({ ...p }));
  for (const [before, after, unwrap] of WRAPPINGS) {
    const text = before + source + after;
    const tokens: Token[] = [];
    const expression = parseExpression(text, { ...FUNCTION_OPTIONS, onToken: tokens });
    const fn = expression && unwrap(expression);
    if (fn) return fn.params.map((pattern) => toParameter(pattern, text, tokens));
  }
  return ANY_ARGUMENTS.map((p) => ({ ...p }));
}

/**
 * The declared parameters of `fn`, read from its source (see {@linkcode parametersOfSource}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parametersOf } from "./source_info.ts";
 *
 * const params = parametersOf((a: number, b = 2, ...rest: number[]) => [a, b, rest]);
 * assert.deepEqual(params.map((p) => p.text), ["a", "b = 2", "...rest"]);
 * assert.deepEqual(params.map((p) => [p.optional, p.rest]), [[false, false], [true, false], [
 *   false,
 *   true,
 * ]]);
 * ```
 */
export function parametersOf(fn: (...args: never[]) => unknown): Parameter[] {
  return parametersOfSource(Function.prototype.toString.call(fn));
}

// The JSDoc comments of `source` by the position of the first non-blank character after each.
function docsByNextPosition(source: string, comments: Comment[]): Map<number, Comment> {
  const docs = new Map<number, Comment>();
  for (const comment of comments) {
    if (comment.type !== "Block" || !comment.value.startsWith("*")) continue;
    const blank = /\S/g;
    blank.lastIndex = comment.end;
    docs.set(blank.exec(source)?.index ?? source.length, comment);
  }
  return docs;
}

// The comment's text without its `*` margins, up to the first block tag (`@param`, `@example`…).
function docText(comment: Comment): string {
  const lines = comment.value.slice(1).split("\n").map((line) =>
    line.replace(/^\s*\*?\s?/, "").trimEnd()
  );
  const untilTags = lines.findIndex((line) => line.startsWith("@"));
  return lines.slice(0, untilTags === -1 ? undefined : untilTags).join("\n").trim();
}

// How many characters `exportDocs` may blank out to get past text the tokenizer refuses.
const MAX_REPAIRS = 100;

/**
 * The JSDoc text of each documented exported function or variable (`export function`,
 * `export async function*`, `export default function`, `export const`…) in a module's source,
 * by export name: the comment without its `*` margins, up to its first block tag (`@param`…).
 *
 * Module sources are TypeScript as often as JavaScript, and no JavaScript parser accepts type
 * syntax; so this reads tokens with acorn's tokenizer, which checks no grammar: type annotations,
 * generics, `interface` and `as` are only names and punctuation to it, and the comments and
 * export names come out exactly (strings, templates and regexes that hold `/**` or `export` are
 * not mistaken for them). A character the tokenizer refuses (a decorator's `@`) is blanked out,
 * keeping every position, and the source read again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exportDocs } from "./source_info.ts";
 *
 * const docs = exportDocs(`
 *   /** Adds two numbers.
 *    * @param a the first
 *    *\/
 *   export function add(a: number, b: number): number { return a + b; }
 *   /** Counts. *\/
 *   export const count = <T,>(xs: T[]): number => xs.length;
 * `);
 * assert.deepEqual([...docs], [["add", "Adds two numbers."], ["count", "Counts."]]);
 * ```
 */
export function exportDocs(source: string): Map<string, string> {
  let text = source;
  for (let repairs = 0;; repairs++) {
    const tokens: Token[] = [];
    const comments: Comment[] = [];
    try {
      for (
        const token of tokenizer(text, {
          ecmaVersion: "latest",
          sourceType: "module",
          onComment: comments,
        })
      ) tokens.push(token);
    } catch (err) {
      const at = (err as { pos?: number }).pos;
      if (repairs < MAX_REPAIRS && at !== undefined && at < text.length && /\S/.test(text[at])) {
        text = text.slice(0, at) + " " + text.slice(at + 1);
        continue;
      }
    }
    return exportedDocs(text, tokens, comments);
  }
}

function exportedDocs(text: string, tokens: Token[], comments: Comment[]): Map<string, string> {
  const docs = new Map<string, string>();
  const before = docsByNextPosition(text, comments);
  const word = (token: Token | undefined) =>
    token && (token.type.keyword ?? (token.type.label === "name" ? "" : undefined)) !== undefined
      ? text.slice(token.start, token.end)
      : undefined;
  tokens.forEach((token, i) => {
    const comment = token.type.keyword === "export" ? before.get(token.start) : undefined;
    if (!comment) return;
    let at = i + 1;
    if (word(tokens[at]) === "default") at++;
    if (word(tokens[at]) === "async") at++;
    if (word(tokens[at]) === "function") {
      at++;
      if (tokens[at]?.type.label === "*") at++;
    } else if (["const", "let", "var"].includes(word(tokens[at]) ?? "")) at++;
    else return;
    const name = tokens[at]?.type.label === "name" ? word(tokens[at]) : undefined;
    if (name) docs.set(name, docText(comment));
  });
  return docs;
}

/**
 * The JSDoc text of each instance method of a class, from the class's source (a constructor's
 * `toString()`, which holds the comments of its body), by method name; static methods,
 * accessors, fields and computed names other than string literals are left out. A source that
 * is not a class (a `function` constructor, a built-in) has none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { methodDocs } from "./source_info.ts";
 *
 * const docs = methodDocs(`class Calculator {
 *   /** Adds two numbers.
 *    * @param a the first
 *    *\/
 *   add(a, b) { return a + b; }
 *   /** Not a method: a field. *\/
 *   times = (x) => x * 3;
 *   /** Not an instance method. *\/
 *   static make() { return new Calculator(); }
 * }`);
 * assert.deepEqual([...docs], [["add", "Adds two numbers."]]);
 * assert.equal(methodDocs("function Old() {}").size, 0);
 * ```
 */
export function methodDocs(classSource: string): Map<string, string> {
  const docs = new Map<string, string>();
  const comments: Comment[] = [];
  const text = `(${classSource}\n)`;
  const expression = parseExpression(text, { ...FUNCTION_OPTIONS, onComment: comments });
  if (expression?.type !== "ClassExpression") return docs;
  const before = docsByNextPosition(text, comments);
  for (const element of expression.body.body) {
    if (element.type !== "MethodDefinition" || element.kind !== "method" || element.static) {
      continue;
    }
    const { key, computed } = element;
    const name = key.type === "Identifier" && !computed
      ? key.name
      : key.type === "Literal" && (!computed || typeof key.value === "string")
      ? String(key.value)
      : undefined;
    const comment = before.get(element.start);
    if (name !== undefined && comment) docs.set(name, docText(comment));
  }
  return docs;
}

/**
 * The JSDoc text of the methods `proto` defines, read from the source of its own `constructor`
 * (see {@linkcode methodDocs}); none if `proto` is not a class's prototype.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { prototypeDocs } from "./source_info.ts";
 *
 * // A class whose source holds a JSDoc comment (a doc example cannot hold one).
 * const Greeter = new Function(`return class Greeter {
 *   /** Says hello. *\/
 *   greet(name) { return "hello " + name; }
 * }`)();
 * assert.equal(prototypeDocs(Greeter.prototype).get("greet"), "Says hello.");
 * assert.equal(prototypeDocs(Map.prototype).size, 0);
 * ```
 */
export function prototypeDocs(proto: object): Map<string, string> {
  const ctor = Object.getOwnPropertyDescriptor(proto, "constructor")?.value;
  if (typeof ctor !== "function" || ctor.prototype !== proto) return new Map();
  return methodDocs(Function.prototype.toString.call(ctor));
}
