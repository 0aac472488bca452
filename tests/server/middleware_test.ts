/** Server middleware (`server.use`): order, refusal, transformation, and what it is shown. */
import assert from "node:assert/strict";
import {
  AsyncRPC,
  callContext,
  type MiddlewareContext,
  NotFindError,
  RestrictAccessError,
  RPCRuntimeError,
  Server,
} from "../../mod.ts";
import { test } from "../test_platform.deno.ts";
import { collect, startServer, urlOf } from "../helpers.ts";

function add(a: number, b: number) {
  return a + b;
}

async function* count(n: number) {
  for (let i = 0; i < n; i++) yield i;
}

test("middleware: runs around every call in the order added, and may transform the result", async () => {
  const seen: string[] = [];
  await using server = await startServer({}, (s) => {
    s.registerFunction(add);
    s.use(async (ctx, next) => {
      seen.push(`outer in ${ctx.method}`);
      const result = await next();
      seen.push(`outer out ${result}`);
      return result;
    });
    s.use(async (_ctx, next) => {
      seen.push("inner in");
      return (await next() as number) * 10;
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.equal(await rpc.add(1, 2), 30);
  assert.deepEqual(seen, ["outer in add", "inner in", "outer out 30"]);
});

test("middleware: a refusal answers with its error's code and the method never runs", async () => {
  let ran = 0;
  await using server = await startServer(
    { auth: [["admin", "admin"], ["guest", "guest"]] },
    (s) => {
      s.registerFunction(function secret() {
        ran++;
        return "s3cret";
      });
      s.use((ctx, next) => {
        if (ctx.user === "guest") {
          throw new RestrictAccessError(`guests may not call ${ctx.method}`);
        }
        if (ctx.args[0] === "boom") throw new Error("plain failure");
        return next();
      });
    },
  );
  await using guest = await AsyncRPC.connect(urlOf(server, "guest:guest"));
  await assert.rejects(guest.secret(), (err: RestrictAccessError) => {
    assert.ok(err instanceof RestrictAccessError);
    assert.equal(err.code, 403);
    assert.equal(err.message, "guests may not call secret");
    return true;
  });
  await using admin = await AsyncRPC.connect(urlOf(server));
  await assert.rejects(admin.call("secret", ["boom"]), (err: RPCRuntimeError) => {
    assert.ok(err instanceof RPCRuntimeError);
    assert.equal(err.code, 404);
    assert.equal(err.message, "plain failure");
    return true;
  });
  assert.equal(ran, 0);
  assert.equal(await admin.secret(), "s3cret");
});

test("middleware: sees the call's context, and what it changes in args and kwargs is what the method gets", async () => {
  let shown: Record<string, unknown> | undefined;
  let sameContext = false;
  await using server = await startServer({}, (s) => {
    s.registerFunction(function greet(name: string, greeting = "hello") {
      return `${greeting} ${name}`;
    });
    s.use(async (ctx: MiddlewareContext, next) => {
      const { id, method, args, kwargs, peer, user, deadline } = ctx;
      shown = { id, method, args: [...args], kwargs: { ...kwargs }, peer, user, deadline };
      sameContext = callContext().id === ctx.id && ctx.signal instanceof AbortSignal &&
        !ctx.signal.aborted;
      ctx.args = ctx.args.map((arg) => String(arg).toUpperCase());
      ctx.kwargs = { ...ctx.kwargs, greeting: "hi" };
      return await next();
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  const before = Date.now();
  assert.equal(await rpc.call("greet", ["ada"], { greeting: "yo" }, { timeout: 30 }), "hi ADA");
  assert.equal(shown?.method, "greet");
  assert.deepEqual(shown?.args, ["ada"]);
  assert.deepEqual(shown?.kwargs, { greeting: "yo" });
  assert.equal(shown?.user, "admin");
  assert.match(String(shown?.peer), /^127\.0\.0\.1:\d+$/);
  assert.equal(typeof shown?.id, "string");
  const deadline = shown?.deadline as number;
  assert.ok(deadline >= before + 29_000 && deadline <= Date.now() + 30_000, `${deadline}`);
  assert.ok(sameContext);
});

test("middleware: system methods, system.getresult and unknown methods go through it too", async () => {
  const methods: string[] = [];
  await using server = await startServer({}, (s) => {
    s.registerIntrospectionFunctions();
    s.registerFunction(add);
    s.use((ctx, next) => {
      methods.push(ctx.method);
      return next();
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.ok((await rpc.system.listMethods() as string[]).includes("add"));
  const id = await rpc.delay("add", [2, 3]);
  assert.equal(await rpc.system.getresult(id), 5);
  await assert.rejects(rpc.nope(), NotFindError);
  assert.deepEqual(methods, ["system.listMethods", "add", "system.getresult", "nope"]);
});

test("middleware: observes each call's timing, the method's run included", async () => {
  const timings = new Map<string, number>();
  await using server = await startServer({}, (s) => {
    s.registerFunction(function busy(ms: number) {
      const until = performance.now() + ms;
      while (performance.now() < until); // the method's own work, 25 ms
      return ms;
    });
    s.use(async (ctx, next) => {
      const started = performance.now();
      try {
        return await next();
      } finally {
        timings.set(ctx.id, performance.now() - started);
      }
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.equal(await rpc.busy(25), 25);
  assert.equal(await rpc.busy(0), 0);
  assert.equal(timings.size, 2, "one timing per call");
  const [slow] = timings.values();
  assert.ok(slow >= 25, `${slow} ms`);
});

test("middleware: a stream comes to it as an AsyncIterable, which it may replace", async () => {
  await using server = await startServer({}, (s) => {
    s.registerFunction(count);
    s.use(async (_ctx, next) => {
      const items = await next() as AsyncIterable<number>;
      return (async function* () {
        for await (const item of items) yield item * 2;
      })();
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.deepEqual(await collect(await rpc.count(4)), [0, 2, 4, 6]);
});

test("middleware: next() may run again once settled (a retry), never twice at once", async () => {
  let calls = 0;
  await using server = await startServer({}, (s) => {
    s.registerFunction(function flaky() {
      if (++calls < 3) throw new Error("not yet");
      return calls;
    });
    s.registerFunction(add);
    s.use(async (ctx, next) => {
      if (ctx.method === "add") return await Promise.all([next(), next()]);
      for (let attempt = 1;; attempt++) {
        try {
          return await next();
        } catch (err) {
          if (attempt === 3) throw err;
        }
      }
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.equal(await rpc.flaky(), 3);
  await assert.rejects(rpc.add(1, 2), /called next\(\) while its last next\(\) ran/);
});

test("middleware: one that drops what next() returns answers with its own result, and the server lives on", async () => {
  await using server = await startServer({}, (s) => {
    s.registerFunction(add);
    s.use((ctx, next) => {
      if (ctx.method === "nope") void next(); // fails with 401, which nobody awaits
      else return next();
    });
  });
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.equal(await rpc.nope(), null);
  assert.equal(await rpc.add(2, 2), 4);
});

test("middleware: added after listen applies to the calls that follow; use() takes functions only", async () => {
  await using server = await startServer({}, (s) => s.registerFunction(add));
  await using rpc = await AsyncRPC.connect(urlOf(server));
  assert.equal(await rpc.add(1, 2), 3);
  server.use(async (_ctx, next) => (await next() as number) + 100);
  assert.equal(await rpc.add(1, 2), 103);
  assert.throws(() => server.use("log" as never), /use\(\) takes a function/);
  assert.ok(new Server({ port: 0 }).use(() => 1) instanceof Server);
});
