import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { Registry } from "../../src/server/registry.ts";

class Base {
  greet(name: string) {
    return `hello ${name}`;
  }
  _hidden() {}
  get accessor() {
    return 1;
  }
}

class Child extends Base {
  factor = 3;
  times(x: number) {
    return x * this.factor;
  }
  override greet(name: string, punctuation = "!") {
    return `hi ${name}${punctuation}`;
  }
  static make() {
    return new Child();
  }
  [Symbol.iterator]() {}
}

test("registerInstance exposes only the public methods of the class chain", () => {
  const registry = new Registry();
  registry.addInstance(new Child());
  assert.deepEqual(registry.names(), ["greet", "times"]);
});

test("registerInstance binds methods to the instance and keeps their signatures", () => {
  const registry = new Registry();
  registry.addInstance(new Child(), { prefix: "child" });
  assert.deepEqual(registry.names(), ["child.greet", "child.times"]);
  assert.equal(registry.get("child.times")!.run([2]), 6);
  assert.equal(registry.get("child.greet")!.run(["bob"]), "hi bob!");
  assert.equal(registry.signature("child.greet"), '(name, punctuation = "!")');
});

test("registerInstance never exposes Object.prototype, constructor or __proto__", () => {
  const registry = new Registry();
  registry.addInstance({ own() {} });
  registry.addInstance(Object.create(null));
  assert.deepEqual(registry.names(), []);
  for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
    assert.equal(registry.get(name), undefined);
  }
});

test("registry refuses anonymous functions, duplicates and system.* names", () => {
  const registry = new Registry();
  registry.add(function f() {});
  assert.throws(() => registry.add(function f() {}), /already registered/);
  assert.throws(() => registry.add(() => {}), /needs options.name/);
  assert.throws(() => registry.add(function g() {}, { name: "system.x" }), /reserved/);
  assert.equal(registry.signature("nope"), "");
});

class Documented {
  /** A field holding an arrow: not a prototype method, never registered. */
  times = (x: number) => x * 3;
  /**
   * Adds two numbers.
   * @param a the first
   */
  add(a: number, b = 2) {
    return a + b;
  }
  /** Streams the numbers below n. */
  async *below(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  plain() {}
}

class MoreDocumented extends Documented {
  /** Subtracts. */
  sub(a: number, b: number) {
    return a - b;
  }
  // Overrides without a comment of its own: its help is its own (empty) JSDoc.
  override plain() {}
}

test("registerInstance: each method's JSDoc is its help", () => {
  const registry = new Registry();
  registry.addInstance(new Documented());
  assert.deepEqual(registry.names(), ["add", "below", "plain"]);
  assert.equal(registry.get("add")!.help, "Adds two numbers.");
  assert.equal(registry.get("below")!.help, "Streams the numbers below n.");
  assert.equal(registry.get("plain")!.help, "");
  assert.equal(registry.signature("add"), "(a, b = 2)");
});

test("registerInstance: a subclass's methods get their own docs, inherited ones their class's", () => {
  const registry = new Registry();
  registry.addInstance(new MoreDocumented(), { prefix: "m" });
  assert.deepEqual(registry.names(), ["m.add", "m.below", "m.plain", "m.sub"]);
  assert.equal(registry.get("m.sub")!.help, "Subtracts.");
  assert.equal(registry.get("m.add")!.help, "Adds two numbers.");
  assert.equal(registry.get("m.below")!.help, "Streams the numbers below n.");
  assert.equal(registry.get("m.plain")!.help, "");
  assert.equal(registry.get("m.add")!.run([1]), 3);
});
