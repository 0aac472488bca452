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

function remoteMethod(call: Caller, name: string): unknown {
  return new Proxy(() => {}, {
    apply: (_target, _this, args) => call(name, args),
    get: (_target, prop) =>
      typeof prop === "symbol" || NOT_METHODS.has(prop)
        ? undefined
        : remoteMethod(call, `${name}.${prop}`),
  });
}

/**
 * Wraps `client` so that reading an unknown property yields a remote method, called through
 * `call`. The client's own members win, and are bound to the real object, whose private fields
 * a Proxy cannot reach.
 */
export function withRemoteMethods<T extends object>(client: T, call: Caller): T {
  return new Proxy(client, {
    get(target, prop) {
      if (typeof prop === "symbol" || prop in target) {
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return NOT_METHODS.has(prop) ? undefined : remoteMethod(call, prop);
    },
  });
}
