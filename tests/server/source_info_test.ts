import assert from "node:assert/strict";
import { readFile, test } from "../test_platform.deno.ts";
import type { Parameter } from "../../src/server/signature.ts";
import {
  exportDocs,
  methodDocs,
  parametersOf,
  parametersOfSource,
  prototypeDocs,
} from "../../src/server/source_info.ts";

// One expected parameter: its text, and whatever differs from "named after its text, required,
// not rest" (the name is the text for a plain identifier).
type Expected = [text: string, rest?: Partial<Omit<Parameter, "text">>];

const opt = (name: string | undefined): Partial<Parameter> => ({ name, optional: true });
const ANY: Expected[] = [["...args", { name: "args", rest: true }]];

// Function sources as `Function.prototype.toString` prints them, and their parameters.
const TABLE: [source: string, expected: Expected[]][] = [
  // The three that the hand-written scanner got wrong.
  ["function f(sep = /,/, s) {}", [["sep = /,/", opt("sep")], ["s"]]],
  ['function g({ x = "}" } = {}, y = 1) {}', [['{ x = "}" } = {}', opt(undefined)], [
    "y = 1",
    opt("y"),
  ]]],
  ["function h(a = `${`,`}`, b = 2) {}", [["a = `${`,`}`", opt("a")], ["b = 2", opt("b")]]],
  // Every function form.
  ["function () {}", []],
  ["function named(a, b) { return a + b; }", [["a"], ["b"]]],
  ["async function af(a) { await a; }", [["a"]]],
  ["function* gen(a, b = 1) { yield a; }", [["a"], ["b = 1", opt("b")]]],
  ["function *gen2() {}", []],
  ["async function* ag(n) { yield n; }", [["n"]]],
  ["(a, b) => a + b", [["a"], ["b"]]],
  ["x => x * 2", [["x"]]],
  ["async x => x", [["x"]]],
  ["async (a, ...rest) => a", [["a"], ["...rest", { name: "rest", rest: true }]]],
  ["() => {}", []],
  // Methods as they print: class, object-literal, async, generator, computed, accessors.
  ["add(a, b) {\n    return a + b;\n  }", [["a"], ["b"]]],
  ["async m(a) { return await a; }", [["a"]]],
  ["*g(a) { yield a; }", [["a"]]],
  ["async *gen(n) {\n    yield n;\n  }", [["n"]]],
  ["async *m (a) {}", [["a"]]],
  ["[Symbol.iterator](x) {}", [["x"]]],
  ['["computed" + 1](x, y = 2) {}', [["x"], ["y = 2", opt("y")]]],
  ['"quoted name"(q) {}', [["q"]]],
  ["get size() { return 1; }", []],
  ["set size(value) {}", [["value"]]],
  ["async(a, b) {}", [["a"], ["b"]]],
  ["get(key) {}", [["key"]]],
  ["function(a) {}", [["a"]]],
  ["static make(a) {}", [["a"]]],
  ["m(a) { return super.m(this.#secret, a); }", [["a"]]],
  // Class fields holding arrows: the field's text and the arrow's own.
  ["times = (x) => x * 3;", [["x"]]],
  ["(x)=>x * 3", [["x"]]],
  ["(x) => new.target ?? x", [["x"]]],
  ["(a = import.meta.url) => a", [["a = import.meta.url", opt("a")]]],
  // Rest parameters and destructuring, nested.
  ["function r(...xs) {}", [["...xs", { name: "xs", rest: true }]]],
  ["function r([a, b], ...[c, d]) {}", [["[a, b]", { name: undefined }], ["...[c, d]", {
    name: undefined,
    rest: true,
  }]]],
  ["function d({ a: [b, { c = 1 }], ...others }, [e, [f] = [], ...g] = [], h) {}", [
    ["{ a: [b, { c = 1 }], ...others }", { name: undefined }],
    ["[e, [f] = [], ...g] = []", opt(undefined)],
    ["h"],
  ]],
  // Defaults holding `)`, `,`, `=>`, strings, templates, regexes and nested functions.
  ['function p(a = ")", b = (1, 2), c = "=>", d = (x) => x, e = \'(,\') {}', [
    ['a = ")"', opt("a")],
    ["b = (1, 2)", opt("b")],
    ['c = "=>"', opt("c")],
    ["d = (x) => x", opt("d")],
    ["e = '(,'", opt("e")],
  ]],
  ["function t(a = `x,${[1, 2].join(`)`)}`, s = 'a   b') {}", [
    ["a = `x,${[1, 2].join(`)`)}`", opt("a")],
    ["s = 'a   b'", opt("s")],
  ]],
  ["function re(re = /[)\\/,]+/g, s = '') {}", [["re = /[)\\/,]+/g", opt("re")], [
    "s = ''",
    opt("s"),
  ]]],
  ["function n(cb = function (x, y) { return (x, y); }, z = (a, b) => { return a; }, w) {}", [
    ["cb = function (x, y) { return (x, y); }", opt("cb")],
    ["z = (a, b) => { return a; }", opt("z")],
    ["w"],
  ]],
  ["function o(a = { x: [1, 2], y: { z: ')' } }, b = Math.max(1, 2)) {}", [
    ["a = { x: [1, 2], y: { z: ')' } }", opt("a")],
    ["b = Math.max(1, 2)", opt("b")],
  ]],
  // Comments and whitespace inside the list.
  ["function c(a /* first, ) */, // the second,\n  b   =\n   2 /* two */, c/**/=/**/3) {}", [
    ["a"],
    ["b = 2", opt("b")],
    ["c=3", opt("c")],
  ]],
  ["function q(a, /* ) */ ...rest) {}", [["a"], ["...rest", { name: "rest", rest: true }]]],
  // Native and bound functions, and text that is no function: any positional arguments.
  ["function max() { [native code] }", ANY],
  ["function () { [native code] }", ANY],
  ["not a function at all", ANY],
];

test("source_info: the parameter table", () => {
  for (const [source, expected] of TABLE) {
    const want = expected.map(([text, fields]): Parameter => ({
      name: text,
      text,
      optional: false,
      rest: false,
      ...fields,
    }));
    assert.deepEqual(parametersOfSource(source), want, source);
  }
});

test("source_info: parametersOf reads live functions, methods and class-field arrows", () => {
  class C {
    times = (x: number) => x * 3;
    add(a: number, b = 2) {
      return a + b;
    }
    async *gen(n: number, ...more: number[]) {
      yield n + more.length;
    }
    get size() {
      return 1;
    }
    ["computed"](x: number) {
      return x;
    }
  }
  const texts = (fn: (...args: never[]) => unknown) => parametersOf(fn).map((p) => p.text);
  assert.deepEqual(texts(new C().times), ["x"]);
  assert.deepEqual(texts(C.prototype.add), ["a", "b = 2"]);
  assert.deepEqual(texts(C.prototype.gen), ["n", "...more"]);
  assert.deepEqual(texts(C.prototype.computed), ["x"]);
  assert.deepEqual(texts(Object.getOwnPropertyDescriptor(C.prototype, "size")!.get!), []);
  assert.deepEqual(
    texts(
      {
        async m(a: number) {
          return await a;
        },
      }.m,
    ),
    ["a"],
  );
  assert.deepEqual(texts(Math.max), ["...args"]);
  assert.deepEqual(texts(C.prototype.add.bind(null)), ["...args"]);
});

test("source_info: exportDocs reads a TypeScript module source", () => {
  const source = `
import type { Thing } from "./thing.ts";
/** Not exported. */
function hidden(): void {}
interface Shape<T extends object = {}> { area(): number; tag?: T }
const fake = "/** A string, not a doc. */ export function nope() {}";
const pattern = /\\/\\*\\* not a doc \\*\\/ export function nope2/g;

/**
 * Adds two numbers.
 *
 * Twice as fast.
 * @param a the first
 * @returns the sum
 */
export function add(a: number, b: number = 2): number {
  return a + b;
}

/** Streams. */
export async function* stream<T>(items: readonly T[], map?: (t: T) => T): AsyncGenerator<T> {
  for (const item of items) yield map ? map(item) : item;
}

/** A default export. */
export default async function main(this: void, ...args: string[]): Promise<void> {}

/** An arrow. */
export const arrow = <T,>(x: T): T => x as unknown as T;

export function undocumented(x: Shape<{ a: 1 }>): x is Shape<{ a: 1 }> { return !!x; }

/** Generic and decorated. */
@sealed
export class Decorated {}

/** After a decorator. */
export let value: Map<string, Array<number>> | undefined = undefined;
`;
  const docs = exportDocs(source);
  assert.deepEqual([...docs], [
    ["add", "Adds two numbers.\n\nTwice as fast."],
    ["stream", "Streams."],
    ["main", "A default export."],
    ["arrow", "An arrow."],
    ["value", "After a decorator."],
  ]);
});

test("source_info: exportDocs reads the pool fixture module", async () => {
  const source = new TextDecoder().decode(
    await readFile(new URL("../fixtures/handlers.ts", import.meta.url)),
  );
  const docs = exportDocs(source);
  assert.equal(docs.get("add"), "Adds two numbers.");
  assert.equal(docs.get("mul"), "Multiplies after a tick.");
  assert.equal(docs.get("count"), "Counts from 0 to n - 1.");
  assert.equal(
    docs.get("busy"),
    "Spins the CPU for `ms` milliseconds, then says which thread did it.",
  );
});

class Documented {
  /** A field, not a method. */
  field = (x: number) => x;
  /**
   * Greets.
   * @param name who
   */
  greet(name: string) {
    return `hello ${name}`;
  }
  /** A static one. */
  static make() {
    return new Documented();
  }
  /** An accessor. */
  get size() {
    return 1;
  }
  undocumented() {}
  /** Quoted. */
  "quoted name"() {}
  /** Computed with a string. */
  ["computed"]() {}
  /** Async generator. */
  async *gen() {}
}

test("source_info: methodDocs and prototypeDocs read a class's method docs", () => {
  const docs = prototypeDocs(Documented.prototype);
  assert.deepEqual([...docs], [
    ["greet", "Greets."],
    ["quoted name", "Quoted."],
    ["computed", "Computed with a string."],
    ["gen", "Async generator."],
  ]);
  assert.deepEqual(methodDocs(Documented.toString()), docs);
  assert.equal(prototypeDocs(Map.prototype).size, 0);
  assert.equal(prototypeDocs(Object.create(Documented.prototype)).size, 0);
  assert.equal(methodDocs("function Old() {}").size, 0);
  assert.equal(methodDocs("class { [native code] }").size, 0);
});
