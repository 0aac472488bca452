/**
 * The attribute-call Proxy both clients share: `rpc.system.listMethods()` becomes
 * `rpc.call("system.listMethods", [])`.
 *
 * @module
 */

// Properties that must never become calls: `await rpc` looks up `then`, and inspecting or
// serializing a client looks up the others.
const NOT_METHODS = new Set(["then", "catch", "finally", "toJSON", "inspect"]);

type Caller = (name: string, args: unknown[]) => unknown;

// Remote methods made per client (and per dotted prefix), kept so that `rpc.add(…)` in a loop
// does not build a Proxy per call; past this many names, they are made afresh each time.
const MAX_CACHED = 256;

// The remote method `name` of `methods`, made and kept if new.
function cached(
  methods: Map<string, unknown>,
  call: Caller,
  name: string,
): unknown {
  let method = methods.get(name);
  if (method === undefined) {
    method = remoteMethod(call, name);
    if (methods.size < MAX_CACHED) methods.set(name, method);
  }
  return method;
}

function remoteMethod(call: Caller, name: string): unknown {
  let children: Map<string, unknown> | undefined;
  return new Proxy(() => {}, {
    apply: (_target, _this, args) => call(name, args),
    get: (_target, prop) =>
      typeof prop === "symbol" || NOT_METHODS.has(prop)
        ? undefined
        : cached(children ??= new Map(), call, `${name}.${prop}`),
  });
}

/**
 * Wraps `client` so that reading an unknown property yields a remote method, called through
 * `call`. The client's own members win, and are bound to the real object, whose private fields
 * a Proxy cannot reach.
 */
export function withRemoteMethods<T extends object>(client: T, call: Caller): T {
  const methods = new Map<string, unknown>();
  return new Proxy(client, {
    get(target, prop) {
      if (typeof prop === "symbol" || prop in target) {
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return NOT_METHODS.has(prop) ? undefined : cached(methods, call, prop);
    },
  });
}

/** A client's `call(method, args, kwargs, options)`, whichever client and options. */
type OptionsCaller<O, R> = (
  method: string,
  args: unknown[],
  kwargs: Record<string, unknown>,
  options: O,
) => R;

/**
 * A view whose calls, attribute calls included, go through `call` with `options` (a call's own
 * options win): what both clients' `with()` returns.
 */
export function callOptionsView<O extends object, R>(
  call: OptionsCaller<O, R>,
  options: O,
): { call: (method: string, args?: unknown[], kwargs?: Record<string, unknown>, more?: O) => R } {
  const scoped = (
    method: string,
    args: unknown[] = [],
    kwargs: Record<string, unknown> = {},
    more?: O,
  ) => call(method, args, kwargs, { ...options, ...more });
  return withRemoteMethods({ call: scoped }, (name, args) => scoped(name, args));
}
