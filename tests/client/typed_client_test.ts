/**
 * The typed client: `AsyncRPC.connect<typeof api>()` and `RPC.connect<typeof api>()` over real
 * servers, and, checked by the type checker (`deno task check`, and every test run), what the
 * types allow: each `@ts-expect-error` line must be an error, and `Equal` checks are exact.
 */
import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import {
  AsyncRPC,
  type AsyncRPCClient,
  type MethodName,
  NotFindError,
  RPC,
  type RPCClient,
} from "../../mod.ts";
import { collect, spawnServer, startServer, urlOf } from "../helpers.ts";
import { type Api, api } from "../fixtures/typed_api.ts";
import type * as handlers from "../fixtures/handlers.ts";

const SERVER = new URL("../fixtures/typed_server.ts", import.meta.url);
const HANDLERS = new URL("../fixtures/handlers.ts", import.meta.url);

class Calculator {
  constructor(readonly factor: number) {}
  times(x: number): number {
    return x * this.factor;
  }
  _internal(): void {}
}

/** `true` only if `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
/** Compiles only if `T` is `true`. */
function assertType<T extends true>(_check?: T): void {}

async function typedClient(): Promise<AsyncDisposable & { rpc: AsyncRPCClient<Api> }> {
  const server = await startServer({}, (s) => {
    s.registerIntrospectionFunctions();
    s.registerInstance(api);
  });
  const rpc = await AsyncRPC.connect<Api>(urlOf(server));
  return {
    rpc,
    async [Symbol.asyncDispose]() {
      await rpc.close();
      await server.close();
    },
  };
}

test("typed client: calls, streams and nested names over a real server, as declared", async () => {
  await using client = await typedClient();
  const { rpc } = client;
  assert.equal(await rpc.add(1, 2), 3);
  assert.deepEqual(await collect(await rpc.count(3)), [0, 1, 2]);
  assert.equal(await rpc.greet("bob"), "hi bob!");
  assert.equal(await rpc.math.neg(2), -2);
  assert.equal(await rpc.math.half(3), 1.5);
  assert.deepEqual((await rpc.system.listMethods()).sort(), [
    "add",
    "close",
    "count",
    "greet",
    "math.half",
    "math.neg",
    "system.getresult",
    "system.lenConnections",
    "system.lenUndoneTasks",
    "system.listMethods",
    "system.methodHelp",
    "system.methodSignature",
  ]);
  assert.equal(await rpc.system.methodSignature("greet"), '(name, punctuation = "!")');
});

test("typed client: call, delay and with() are typed by method name and run as untyped", async () => {
  await using client = await typedClient();
  const { rpc } = client;
  assert.equal(await rpc.call("math.neg", [4]), -4);
  assert.equal(await rpc.call("greet", [], { name: "ann", punctuation: "?" }), "hi ann?");
  assert.deepEqual(await collect(await rpc.call("count", [2])), [0, 1]);
  const id = await rpc.delay("add", [2, 3]);
  assert.equal(await rpc.system.getresult(id), 5);
  const scoped = rpc.with({ timeout: 5 });
  assert.equal(await scoped.math.half(5), 2.5);
  assert.equal(await scoped.call("add", [1, 1]), 2);
  const again = await rpc.reconnect();
  assert.equal(await again.add(2, 2), 4, "reconnect() keeps the types");
});

test("typed client: a method named like a client member is reached with call()", async () => {
  await using client = await typedClient();
  assert.equal(await client.rpc.call("close"), "the remote close");
  assert.ok(client.rpc.connected, "rpc.close is the client's own");
  await assert.rejects(client.rpc.call("_hidden" as never), NotFindError);
});

test("typed client: a class instance's type and a module's type type their calls", async () => {
  await using server = await startServer({}, (s) => {
    s.registerInstance(new Calculator(3), { prefix: "calc" });
    s.registerModule(HANDLERS, { executor: "inline" });
  });
  await using calc = await AsyncRPC.connect<{ calc: Calculator }>(urlOf(server));
  assert.equal(await calc.calc.times(2), 6);
  await using module = await AsyncRPC.connect<typeof handlers>(urlOf(server));
  assert.equal(await module.mul(3), 6);
  assert.deepEqual(await collect(await module.count(2)), [0, 1]);
  assertType<Equal<ReturnType<typeof module.count>, Promise<AsyncIterable<number>>>>();
  // @ts-expect-error: a class's _ names are not served
  calc.calc._internal;
});

test("typed sync client: results without promises, streams as iterables", async () => {
  await using server = await spawnServer(SERVER);
  using rpc = RPC.connect<Api>(server.url);
  assert.equal(rpc.add(1, 2), 3);
  assert.deepEqual([...rpc.count(3)], [0, 1, 2]);
  assert.equal(rpc.math.half(1), 0.5);
  assert.equal(rpc.call("math.neg", [1]), -1);
  assert.equal(rpc.with({ timeout: 5 }).greet("eve", "."), "hi eve.");
  assert.equal(rpc.system.getresult(rpc.delay("add", [4, 4])), 8);
});

// Never called: the type checker checks it. Each `@ts-expect-error` must be a type error.
export function typeChecks(rpc: AsyncRPCClient<Api>, sync: RPCClient<Api>): void {
  assertType<Equal<ReturnType<typeof rpc.add>, Promise<number>>>();
  assertType<Equal<ReturnType<typeof rpc.count>, Promise<AsyncIterable<number>>>>();
  assertType<Equal<ReturnType<typeof rpc.math.half>, Promise<number>>>();
  assertType<Equal<Parameters<typeof rpc.greet>, [name: string, punctuation?: string]>>();
  assertType<Equal<ReturnType<typeof rpc.system.listMethods>, Promise<string[]>>>();
  assertType<Equal<ReturnType<typeof rpc.call<"math.neg">>, Promise<number>>>();
  assertType<Equal<ReturnType<typeof rpc.delay<"add">>, Promise<string>>>();
  assertType<Equal<ReturnType<typeof sync.add>, number>>();
  assertType<Equal<ReturnType<typeof sync.count>, Iterable<number>>>();
  assertType<Equal<ReturnType<typeof sync.call<"count">>, Iterable<number>>>();
  assertType<Equal<ReturnType<typeof sync.system.lenConnections>, number>>();
  assertType<Equal<ReturnType<typeof rpc.close>, Promise<void>>>();
  assertType<
    Equal<
      MethodName<Api>,
      "add" | "count" | "greet" | "math.neg" | "math.half" | "close"
    >
  >();

  // @ts-expect-error: a string for a number
  rpc.add("1", 2);
  // @ts-expect-error: too few arguments
  rpc.add(1);
  // @ts-expect-error: too many arguments
  rpc.add(1, 2, 3);
  // @ts-expect-error: no such method
  rpc.nope();
  // @ts-expect-error: no such nested method
  rpc.math.add(1, 2);
  // @ts-expect-error: names starting with _ are not served
  rpc._hidden();
  // @ts-expect-error: the result is a promise, not a number
  rpc.add(1, 2).toFixed();
  // @ts-expect-error: a stream resolves to an AsyncIterable, with no length
  rpc.count(3).then((items) => items.length);
  (async () => {
    // @ts-expect-error: an AsyncIterable is iterated with for await
    for (const _ of await rpc.count(3));
  });
  // @ts-expect-error: no such method for call
  rpc.call("math.add", [1, 2]);
  // @ts-expect-error: a typed client's call takes its type from the method, not a type argument
  rpc.call<number>("add", [1, 2]);
  // @ts-expect-error: call's arguments are the method's
  rpc.call("add", ["1"]);
  // @ts-expect-error: more arguments than the method takes
  rpc.call("add", [1, 2, 3]);
  // @ts-expect-error: no such method for delay
  rpc.delay("nope");
  // @ts-expect-error: delay's arguments are the method's
  rpc.delay("math.neg", ["1"]);
  // @ts-expect-error: with() views are typed too
  rpc.with({ timeout: 1 }).nope();
  // @ts-expect-error: system methods are typed
  rpc.system.methodHelp(1);

  // @ts-expect-error: the sync client checks arguments too
  sync.add("1", 2);
  // @ts-expect-error: a sync stream is an Iterable, not an AsyncIterable
  sync.count(3)[Symbol.asyncIterator];
  // @ts-expect-error: no such method
  sync.nope();
  // @ts-expect-error: no such method for call
  sync.call("nope");
  // @ts-expect-error: no such method for delay
  sync.delay("math.add");
  // @ts-expect-error: with() views are typed too
  sync.with({ timeout: 1 }).math.neg("1");
}

// Never called: with no type argument, everything stays as it was (any name, any arguments).
export async function untypedChecks(url: string): Promise<void> {
  const rpc = await AsyncRPC.connect(url);
  const n: number = await rpc.anything.at.all(1, "x");
  const s: string = await rpc.call("whatever", [1], { a: 2 });
  const id: string = await rpc.delay("x", ["y"]);
  const v: boolean = await rpc.with({ timeout: 1 }).deep.er();
  const sync = RPC.connect(url);
  const m: number = sync.foo.bar(1);
  const t: string = sync.call("x");
  // The result type given at the call, as before the typed client.
  const u = await rpc.call<number>("add", [1, 2]);
  assertType<Equal<typeof u, number>>();
  const w = sync.call<string>("x", [], {}, { timeout: 1 });
  assertType<Equal<typeof w, string>>();
  assertType<Equal<typeof rpc, AsyncRPCClient>>();
  assert.ok([n, s, id, v, m, t, u, w]);
}

// Never called: methods the Proxy never calls as attributes are left out of the typed view, so a
// client of an API with `then` is not taken for a promise; `call` reaches them.
export async function reservedNameChecks(url: string): Promise<void> {
  const thenable = { then: (x: number) => x, inner: { toJSON: () => "{}" }, ok: () => 1 };
  const rpc = await AsyncRPC.connect<typeof thenable>(url);
  assertType<Equal<ReturnType<typeof rpc.ok>, Promise<number>>>();
  assertType<Equal<ReturnType<typeof rpc.call<"then">>, Promise<number>>>();
  // @ts-expect-error: then is not an attribute call
  rpc.then(1);
  // @ts-expect-error: nor is a nested toJSON
  rpc.inner.toJSON();
}

// Never called: values that are objects (arrays, dates, maps …) are not groups of methods, as
// registerInstance does not walk them.
export async function valueFieldChecks(url: string): Promise<void> {
  type Values = {
    tags: string[];
    when: Date;
    cache: Map<string, number>;
    bytes: Uint8Array;
    ok(): number;
  };
  const rpc = await AsyncRPC.connect<Values>(url);
  assertType<Equal<MethodName<Values>, "ok">>();
  // @ts-expect-error: an array's methods are not served
  rpc.tags.push("b");
  // @ts-expect-error: nor a Date's
  rpc.call("when.getTime");
  // @ts-expect-error: nor a Map's
  rpc.cache.clear();
}
