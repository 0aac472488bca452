/**
 * Checks import from a URL: serves the repository over HTTP on 127.0.0.1, then runs a Deno
 * script, outside this project and with no import map, that imports
 * `http://127.0.0.1:<port>/mod.ts` and makes a call.
 *
 * @module
 */
const ROOT = new URL("../", import.meta.url);

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  const path = decodeURIComponent(new URL(request.url).pathname);
  if (path.includes("..")) return new Response("no", { status: 400 });
  try {
    const body = await Deno.readFile(new URL(`.${path}`, ROOT));
    return new Response(body, { headers: { "content-type": "application/typescript" } });
  } catch {
    return new Response("not found", { status: 404 });
  }
});
const origin = `127.0.0.1:${server.addr.port}`;
const dir = Deno.makeTempDirSync({ prefix: "mprpc-url-" });
try {
  Deno.writeTextFileSync(
    `${dir}/main.ts`,
    `import { AsyncRPC, Server } from "http://${origin}/mod.ts";
await using server = new Server({ port: 0 });
server.registerFunction(function testfunc(a: number, b: number) { return a + b; });
await server.listen();
await using rpc = await AsyncRPC.connect(\`tcp://admin:admin@127.0.0.1:\${server.addr.port}\`);
console.log(await rpc.testfunc(5, 4));
`,
  );
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--reload",
      `--allow-import=${origin}`,
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "main.ts",
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const answer = new TextDecoder().decode(stdout).trim();
  if (code !== 0 || answer !== "9") {
    throw new Error(
      `import from URL failed (${code}): ${answer}\n${new TextDecoder().decode(stderr)}`,
    );
  }
  console.log(`URL import ok: http://${origin}/mod.ts`);
} finally {
  Deno.removeSync(dir, { recursive: true });
  await server.shutdown();
}
