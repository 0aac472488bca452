import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { ParamError } from "../../mod.ts";
import { bindArguments, formatSignature } from "../../src/server/signature.ts";
import { parametersOf } from "../../src/server/source_info.ts";

const sig = (fn: (...args: never[]) => unknown) => formatSignature(parametersOf(fn));

test("signature: reads every function form", () => {
  assert.equal(
    sig(function testfunc(a: number, b: number) {
      return a + b;
    }),
    "(a, b)",
  );
  assert.equal(
    sig(async function (a: number) {
      return await a;
    }),
    "(a)",
  );
  assert.equal(
    sig(async function* (a: number, ...rest: number[]) {
      yield a + rest.length;
    }),
    "(a, ...rest)",
  );
  assert.equal(sig((x: number) => x), "(x)");
  assert.equal(sig(async (x: number, y = 2) => await x + y), "(x, y = 2)");
  assert.equal(sig(() => 1), "()");
  class C {
    m(a: string, b = "(,)", c = 3) {
      return a + b + c;
    }
  }
  assert.equal(sig(C.prototype.m), '(a, b = "(,)", c = 3)');
  assert.equal(sig(Math.max), "(...args)");
  assert.equal(
    sig(function f(a: number) {
      return a;
    }.bind(null)),
    "(...args)",
  );
});

test("signature: defaults holding commas, parens, strings and arrows stay one parameter", () => {
  const fn = (
    a = { x: [1, 2] },
    b = Math.max(1, 2),
    c = ")",
    d = () => 3,
    e = `x,${1}`,
  ) => [a, b, c, d, e];
  assert.deepEqual(parametersOf(fn).map((p) => p.name), ["a", "b", "c", "d", "e"]);
  assert.ok(parametersOf(fn).every((p) => p.optional));
});

test("signature: a destructured parameter has no name and binds by position only", () => {
  const params = parametersOf(({ a }: { a: number }, b: number) => a + b);
  assert.equal(params[0].name, undefined);
  assert.deepEqual(bindArguments(params, [{ a: 1 }], { b: 2 }), [{ a: 1 }, 2]);
  assert.throws(() => bindArguments(params, [], { a: 1, b: 2 }), ParamError);
});

test("bind: positional, keyword, defaults and rest like Python", () => {
  const params = parametersOf((a: number, b = 2, ...rest: number[]) => [a, b, rest]);
  assert.deepEqual(bindArguments(params, [1], {}), [1]);
  assert.deepEqual(bindArguments(params, [], { a: 1, b: 3 }), [1, 3]);
  assert.deepEqual(bindArguments(params, [1, 2, 3, 4], {}), [1, 2, 3, 4]);
  const skipped = bindArguments(parametersOf((a = 1, b = 2) => a + b), [], { b: 5 });
  assert.equal(skipped.length, 2);
  assert.equal(skipped[0], undefined);
  assert.equal(skipped[1], 5);
});

test("bind: unknown, duplicate, missing and surplus arguments are ParamErrors", () => {
  const params = parametersOf((a: number, b: number) => a + b);
  assert.throws(() => bindArguments(params, [1, 2, 3], {}), /takes 2 positional argument/);
  assert.throws(() => bindArguments(params, [1], { c: 2 }), /unexpected keyword argument 'c'/);
  assert.throws(() => bindArguments(params, [1], { a: 2 }), /multiple values for argument 'a'/);
  assert.throws(() => bindArguments(params, [1], {}), /missing required argument\(s\): 'b'/);
  assert.throws(() => bindArguments(params, [], { b: 1 }), ParamError);
  const rest = parametersOf((...xs: number[]) => xs);
  assert.throws(() => bindArguments(rest, [], { xs: [1] }), /unexpected keyword argument 'xs'/);
});

test("bind: kwargs bind past defaults holding a regex, a brace string and a nested template", () => {
  function f(sep = /,/, s = "") {
    return s.split(sep);
  }
  function g({ x = "}" } = {}, y = 1) {
    return `${x}${y}`;
  }
  function h(a = `${`,`}`, b = 2) {
    return `${a}${b}`;
  }
  assert.equal(formatSignature(parametersOf(f)), '(sep = /,/, s = "")');
  assert.equal(formatSignature(parametersOf(g)), '({ x = "}" } = {}, y = 1)');
  assert.equal(formatSignature(parametersOf(h)), "(a = `${`,`}`, b = 2)");
  assert.deepEqual(f(...bindArguments(parametersOf(f), [], { s: "a,b" }) as []), ["a", "b"]);
  assert.equal(g(...bindArguments(parametersOf(g), [], { y: 5 }) as []), "}5");
  assert.equal(g(...bindArguments(parametersOf(g), [{ x: "x" }], { y: 5 }) as []), "x5");
  assert.equal(h(...bindArguments(parametersOf(h), [], { b: 7 }) as []), ",7");
  assert.throws(() => bindArguments(parametersOf(h), [], { c: 7 }), ParamError);
});
