/** Client middleware (`AsyncRPC.use`): around every outgoing call, in order. */
import assert from "node:assert/strict";
import {
  AsyncRPC,
  callContext,
  type ClientMiddlewareContext,
  TimeoutException,
} from "../../mod.ts";
import { test } from "../test_platform.deno.ts";
import { collect, startServer, urlOf } from "../helpers.ts";

test("client middleware: runs around calls in order; what it changes is what is sent", async () => {
  const received: unknown[] = [];
  await using server = await startServer({}, (s) => {
    s.registerFunction(function echo(value: unknown, suffix = "") {
      received.push(value);
      return `${value}${suffix}`;
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  const seen: string[] = [];
  rpc.use(async (ctx: ClientMiddlewareContext, next) => {
    seen.push(`outer ${ctx.method} ${JSON.stringify(ctx.args)}`);
    return `[${await next()}]`;
  });
  rpc.use((ctx, next) => {
    seen.push("inner");
    ctx.args = [String(ctx.args[0]).toUpperCase()];
    ctx.kwargs = { suffix: "!" };
    return next();
  });
  assert.equal(await rpc.echo("hi"), "[HI!]");
  assert.equal(await rpc.with({ timeout: 5 }).echo("there"), "[THERE!]");
  assert.deepEqual(received, ["HI", "THERE"]);
  assert.deepEqual(seen, ['outer echo ["hi"]', "inner", 'outer echo ["there"]', "inner"]);
});

test("client middleware: a throw fails the call without sending it; options it sets apply", async () => {
  let ran = 0;
  await using server = await startServer({}, (s) => {
    s.registerFunction(async function slow() {
      ran++;
      await new Promise<void>((resolve) => {
        const { signal } = callContext();
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  rpc.use((ctx, next) => {
    if (ctx.method === "forbidden") throw new Error("not from this client");
    ctx.options = { ...ctx.options, timeout: 0.05 };
    return next();
  });
  await assert.rejects(rpc.forbidden(), /not from this client/);
  assert.equal(ran, 0);
  // The timeout the middleware set ends the call, and the server is told (deadline, cancel).
  await assert.rejects(rpc.slow(), TimeoutException);
  assert.equal(ran, 1);
});

test("client middleware: a stream comes to it as an AsyncIterable; retries resend the call", async () => {
  let attempts = 0;
  await using server = await startServer({}, (s) => {
    s.registerFunction(async function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    s.registerFunction(function flaky() {
      if (++attempts < 2) throw new Error("once");
      return attempts;
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  rpc.use(async (ctx, next) => {
    if (ctx.method !== "count") {
      try {
        return await next();
      } catch {
        return await next();
      }
    }
    const items = await next() as AsyncIterable<number>;
    return (async function* () {
      for await (const item of items) yield -item;
    })();
  });
  assert.deepEqual(await collect(await rpc.count(3)), [-0, -1, -2]);
  assert.equal(await rpc.flaky(), 2);
});

test("client middleware: delay() does not go through it; use() takes functions only", async () => {
  await using server = await startServer({}, (s) => {
    s.registerIntrospectionFunctions();
    s.registerFunction(function add(a: number, b: number) {
      return a + b;
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  const methods: string[] = [];
  assert.equal(
    rpc.use((ctx, next) => {
      methods.push(ctx.method);
      return next();
    }),
    rpc,
  );
  const id = await rpc.delay("add", [1, 2]);
  assert.equal(await rpc.system.getresult(id), 3);
  assert.deepEqual(methods, ["system.getresult"]);
  assert.throws(() => rpc.use(42 as never), /use\(\) takes a function/);
  // What a middleware sets in the options is checked as a caller's options are.
  rpc.use((ctx, next) => {
    ctx.options = { ...ctx.options, timout: 1 } as typeof ctx.options;
    return next();
  });
  await assert.rejects(rpc.add(1, 2), /unknown CallOptions option 'timout'/);
});
