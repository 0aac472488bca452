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
  assert.deepEqual(registry.names(), ["own"]);
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

test("registerInstance: a plain object gives its own functions, nested plain objects dotted names", () => {
  const registry = new Registry();
  const api = {
    add: (a: number, b: number) => a + b,
    async *count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    },
    math: { neg: (a: number) => -a, deeper: { id: (x: unknown) => x } },
    _hidden() {},
    version: "1.0",
    list: [() => 1],
    when: new Date(0),
    get computed() {
      throw new Error("a getter is never run");
    },
    [Symbol.iterator]() {},
  };
  registry.addInstance(api, { prefix: "api" });
  assert.deepEqual(registry.names(), [
    "api.add",
    "api.count",
    "api.math.deeper.id",
    "api.math.neg",
  ]);
  assert.equal(registry.get("api.add")!.run([1, 2]), 3);
  assert.equal(registry.get("api.math.neg")!.run([2]), -2);
  assert.equal(registry.get("api.count")!.async, true);
  assert.equal(registry.signature("api.add"), "(a, b)");
  assert.equal(registry.signature("api.count"), "(n)");
});

test("registerInstance: a plain object's method runs with the object holding it as this", () => {
  const registry = new Registry();
  const api = {
    factor: 3,
    times(x: number) {
      return x * this.factor;
    },
    inner: {
      name: "inner",
      whoami() {
        return this.name;
      },
    },
  };
  registry.addInstance(api);
  assert.equal(registry.get("times")!.run([2]), 6);
  assert.equal(registry.get("inner.whoami")!.run([]), "inner");
});

test("registerInstance: an object shared under two names is added under both; a cycle is refused", () => {
  const registry = new Registry();
  const shared = { ping: () => "pong" };
  registry.addInstance({ a: shared, b: shared });
  assert.deepEqual(registry.names(), ["a.ping", "b.ping"]);
  const cyclic: Record<string, unknown> = { f() {} };
  cyclic.inner = { back: cyclic };
  assert.throws(
    () => new Registry().addInstance(cyclic),
    (err) => err instanceof TypeError && /'inner\.back' refers back/.test(err.message),
  );
});

test("registerInstance: a class instance inside a plain object is not walked", () => {
  const registry = new Registry();
  registry.addInstance({ child: new Child(), top() {} });
  assert.deepEqual(registry.names(), ["top"]);
});
