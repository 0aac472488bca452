/**
 * The typed-client example pair, run as a user would: examples/api_server.ts serves
 * examples/api.ts, and examples/api_client.ts calls it with only the API's type imported.
 * Deno only: the examples are Deno scripts (the npm build does not include them).
 */
import assert from "node:assert/strict";
import { scriptCommand, spawn, test } from "../test_platform.deno.ts";

const EXAMPLES = new URL("../../examples/", import.meta.url);

/** The local modules `root` runs: its import graph without type-only imports (`deno info`). */
async function codeModules(root: URL): Promise<string[]> {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", root.pathname] })
    .output();
  assert.ok(info.success, new TextDecoder().decode(info.stderr));
  const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
    modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
  };
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const queue = [root.href];
  while (queue.length > 0) {
    const specifier = queue.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code) queue.push(dependency.code.specifier);
    }
  }
  return [...seen].filter((s) => s.startsWith("file:"));
}

test("typed example: the client, with only the API's type imported, calls the example server", async () => {
  const [command, args] = scriptCommand(new URL("api_server.ts", EXAMPLES));
  const server = spawn(command, args, { PORT: "0" });
  const lines = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const url = (await lines.read()).value?.trim() ?? "";
    assert.match(url, /^tcp:\/\/admin:admin@127\.0\.0\.1:\d+$/);
    const [clientCommand, clientArgs] = scriptCommand(new URL("api_client.ts", EXAMPLES));
    const client = spawn(clientCommand, [...clientArgs, url]);
    const output = await new Response(client.stdout).text();
    assert.equal(await client.status, 0, output);
    const { methods, ...results } = JSON.parse(output);
    assert.deepEqual(results, {
      sum: 3,
      items: [0, 1, 2],
      words: ["typed", "all", "the", "way"],
      upper: "MPRPC",
    });
    for (const name of ["add", "count", "text.upper", "text.words", "system.listMethods"]) {
      assert.ok(methods.includes(name), `${name} in ${methods}`);
    }
  } finally {
    server.kill();
    await lines.cancel();
    await server.stdin.close();
    await server.status;
  }
});

test("typed example: the client runs none of the API module's code, nor the server's", async () => {
  const modules = await codeModules(new URL("api_client.ts", EXAMPLES));
  assert.ok(modules.some((m) => m.endsWith("/client.ts")), "the client library is there");
  assert.ok(!modules.some((m) => m.endsWith("/examples/api.ts")), modules.join("\n"));
  assert.ok(!modules.some((m) => m.includes("/src/server/")), modules.join("\n"));
});
