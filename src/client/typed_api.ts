/**
 * The client's view of a server's API, computed from the API's own type (`typeof api`, an
 * object, a class instance or a module namespace): what `AsyncRPC.connect<typeof api>()` and
 * `RPC.connect<typeof api>()` call. Types only: nothing here exists at run time.
 *
 * The view follows what `registerInstance` registers: function properties become methods, nested
 * objects dotted names (`math.add`), and names starting with `_` are left out. Values travel as
 * MessagePack, so the declared result type is what the client gets only where MessagePack keeps
 * it (numbers, strings, arrays, plain objects, bytes).
 *
 * An unknown API (`any`, the default, or `unknown`) leaves the client untyped: any name can be
 * called, with any arguments, for an `any` result.
 *
 * @module
 */

/**
 * The methods every MPRPC server may offer under `system.` (the introspection functions, and
 * `getresult` for the outcome of a `delay`ed call), as the server declares them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SystemApi } from "mprpc";
 *
 * const system: Pick<SystemApi, "listMethods"> = { listMethods: () => ["add"] };
 * assert.deepEqual(system.listMethods(), ["add"]);
 * ```
 */
export interface SystemApi {
  /** The names of the registered methods. */
  listMethods(): string[];
  /** The parameters of method `name`, as text: `"(a, b = 2)"`. */
  methodSignature(name: string): string;
  /** The help text of method `name`. */
  methodHelp(name: string): string;
  /** How many connections the server holds. */
  lenConnections(): number;
  /** How many calls the server is running. */
  lenUndoneTasks(): number;
  /** The outcome of the delayed call `id`. */
  getresult(id: string): unknown;
}

/**
 * `API` with the server's own `system.*` methods: what a client of a server serving `API` can
 * call. An unknown API (`any` or `unknown`: the untyped client) stays as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MethodName, WithSystem } from "mprpc";
 *
 * const api = { add: (a: number, b: number) => a + b };
 * const names: MethodName<WithSystem<typeof api>>[] = ["add", "system.listMethods"];
 * assert.equal(names.length, 2);
 * ```
 */
export type WithSystem<API> = unknown extends API ? API
  : Omit<API, "system"> & { system: SystemApi };

/**
 * The name of every method of `API`, nested ones dotted (`"math.add"`), as `registerInstance`
 * registers a plain object: function properties are methods, nested objects groups of them, and
 * names starting with `_` are left out, as are {@linkcode ApiValue}s. Any string if `API` is
 * unknown. A class instance nested in a plain object looks like a group here, but
 * `registerInstance` does not walk it: register it on its own, with a `prefix`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MethodName } from "mprpc";
 *
 * const api = { add: (a: number, b: number) => a + b, math: { neg: (a: number) => -a } };
 * const name: MethodName<typeof api> = "math.neg";
 * // @ts-expect-error: not a method of the API
 * const wrong: MethodName<typeof api> = "math.add";
 * assert.deepEqual([name, wrong], ["math.neg", "math.add"]);
 * ```
 */
export type MethodName<API> = unknown extends API ? string : {
  [K in keyof API & string]: K extends `_${string}` ? never
    : API[K] extends (...args: never[]) => unknown ? K
    : API[K] extends ApiValue ? never
    : API[K] extends object ? `${K}.${MethodName<API[K]>}`
    : never;
}[keyof API & string];

/**
 * Objects in an API type that are values, never groups of methods: `registerInstance` walks plain
 * objects only, so the methods of an array, a `Date` or a `Map` in an API are not served, and
 * {@linkcode MethodName} leaves them out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ApiValue } from "mprpc";
 *
 * const values: ApiValue[] = [[1, 2], new Date(0), new Map(), new Uint8Array(2)];
 * assert.equal(values.length, 4);
 * ```
 */
export type ApiValue =
  | readonly unknown[]
  | Date
  | RegExp
  | Map<unknown, unknown>
  | Set<unknown>
  | WeakMap<object, unknown>
  | WeakSet<object>
  | Promise<unknown>
  | Error
  | ArrayBuffer
  | ArrayBufferView;

/**
 * The function called `M`, a dotted name, in `API`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MethodOf } from "mprpc";
 *
 * const api = { math: { neg: (a: number) => -a } };
 * const neg: MethodOf<typeof api, "math.neg"> = (a) => 0 - a;
 * assert.equal(neg(2), -2);
 * ```
 */
export type MethodOf<API, M extends string> = M extends keyof API ? API[M]
  : M extends `${infer Head}.${infer Rest}` ? Head extends keyof API ? MethodOf<API[Head], Rest>
    : never
  : never;

/**
 * The positional arguments of a `call` of method `M` of `API`: its leading parameters (any left
 * out may come by name in `kwargs`); any arguments if `API` is unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MethodArgs } from "mprpc";
 *
 * const api = { add: (a: number, b: number) => a + b };
 * const args = (...args: MethodArgs<typeof api, "add">) => args;
 * assert.deepEqual(args(1), [1]);
 * // @ts-expect-error: a string for a number
 * assert.deepEqual(args("1"), ["1"]);
 * ```
 */
export type MethodArgs<API, M extends string> = unknown extends API ? unknown[]
  // `& unknown[]`: the partial of a type not yet known is not known to be an array.
  : MethodOf<API, M> extends (...args: infer P) => unknown ? Partial<P> & unknown[]
  : never;

/**
 * What `AsyncRPC` resolves to for method `M` of `API`: its result, promises unwrapped, or an
 * `AsyncIterable` of its items if it streams (an async generator, say); `any` if `API` is unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AsyncResult } from "mprpc";
 *
 * const api = {
 *   async *count(n: number) {
 *     for (let i = 0; i < n; i++) yield i;
 *   },
 * };
 * async function* items() {
 *   yield 1;
 * }
 * const stream: AsyncResult<typeof api, "count"> = items();
 * for await (const item of stream) assert.equal(item, 1);
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AsyncResult<API, M extends string> = unknown extends API ? any
  : MethodOf<API, M> extends (...args: never[]) => infer R
    ? Awaited<R> extends AsyncIterable<infer T> ? AsyncIterable<T> : Awaited<R>
  : never;

/**
 * What `RPC` returns for method `M` of `API`: its result, promises unwrapped, or an `Iterable` of
 * its items if it streams; `any` if `API` is unknown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SyncResult } from "mprpc";
 *
 * const api = {
 *   async *count(n: number) {
 *     for (let i = 0; i < n; i++) yield i;
 *   },
 * };
 * const stream: SyncResult<typeof api, "count"> = [0, 1];
 * assert.deepEqual([...stream], [0, 1]);
 * ```
 */
// deno-lint-ignore no-explicit-any
export type SyncResult<API, M extends string> = unknown extends API ? any
  : MethodOf<API, M> extends (...args: never[]) => infer R
    ? Awaited<R> extends AsyncIterable<infer T> ? Iterable<T> : Awaited<R>
  : never;

/**
 * The names of `API` a typed client reaches as attributes: its methods and groups of them, not
 * names starting with `_`, {@linkcode ApiValue}s, nor `then`, `catch`, `finally`, `toJSON` and
 * `inspect` (the attribute Proxy never calls those: `await` reads `then` of anything), which
 * `call` reaches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AttributeName } from "mprpc";
 *
 * const api = { add: () => 1, math: { neg: () => -1 }, then: () => 2, when: new Date(0) };
 * const names: AttributeName<typeof api>[] = ["add", "math"];
 * // @ts-expect-error: reached with call("then") only
 * const then: AttributeName<typeof api> = "then";
 * assert.deepEqual([...names, then], ["add", "math", "then"]);
 * ```
 */
export type AttributeName<API> = {
  [K in keyof API & string]: K extends
    `_${string}` | "then" | "catch" | "finally" | "toJSON" | "inspect" ? never
    : API[K] extends (...args: never[]) => unknown ? K
    : API[K] extends ApiValue ? never
    : API[K] extends object ? K
    : never;
}[keyof API & string];

/**
 * `API` as the asynchronous client calls it: each method (see {@linkcode MethodName}) takes its
 * parameters and returns a promise of its {@linkcode AsyncResult}; nested objects are nested
 * views. Methods named `then`, `catch`, `finally`, `toJSON` or `inspect` are reached only with
 * `call`: the attribute Proxy never calls them (`await` reads `then` of anything).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AsyncApi } from "mprpc";
 *
 * const api = { add: (a: number, b: number) => a + b };
 * const remote: AsyncApi<typeof api> = { add: (a, b) => Promise.resolve(a + b) };
 * assert.equal(await remote.add(1, 2), 3);
 * ```
 */
export type AsyncApi<API> = {
  readonly [
    K in AttributeName<API> & keyof API
  ]: API[K] extends (...args: infer P) => unknown ? (...args: P) => Promise<AsyncResult<API, K>>
    : AsyncApi<API[K]>;
};

/**
 * `API` as the synchronous client calls it: each method (see {@linkcode MethodName}) takes its
 * parameters and returns its {@linkcode SyncResult}; nested objects are nested views. As in
 * {@linkcode AsyncApi}, methods named `then`, `catch`, `finally`, `toJSON` or `inspect` are
 * reached only with `call`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SyncApi } from "mprpc";
 *
 * const api = {
 *   async *count(n: number) {
 *     for (let i = 0; i < n; i++) yield i;
 *   },
 * };
 * const remote: SyncApi<typeof api> = { count: (n) => Array.from({ length: n }, (_, i) => i) };
 * assert.deepEqual([...remote.count(2)], [0, 1]);
 * ```
 */
export type SyncApi<API> = {
  readonly [
    K in AttributeName<API> & keyof API
  ]: API[K] extends (...args: infer P) => unknown ? (...args: P) => SyncResult<API, K>
    : SyncApi<API[K]>;
};
