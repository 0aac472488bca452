/**
 * Checks the npm package as a user gets it: `npm pack`, `npm install` of the tarball into a fresh
 * project, then a Node script that starts a server and calls it through the installed package, and
 * the `mprpc` command serving a module and calling it. Run after `deno task build:npm`.
 *
 * @module
 */
const NPM_DIR = new URL("../npm/", import.meta.url).pathname;

function run(command: string, args: string[], cwd: string): string {
  const { code, stdout, stderr } = new Deno.Command(command, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  })
    .outputSync();
  const text = new TextDecoder().decode(stdout);
  if (code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed:\n${text}${new TextDecoder().decode(stderr)}`,
    );
  }
  return text;
}

const SMOKE = `
import { AsyncRPC, NotFindError, Server } from "mprpc";
const server = new Server({ port: 0, compression: "zlib" });
server.registerFunction(function testfunc(a, b) { return a + b; });
server.registerFunction(async function* count(n) { for (let i = 0; i < n; i++) yield i; });
await server.listen();
const rpc = await AsyncRPC.connect("tcp://admin:admin@127.0.0.1:" + server.addr.port, { compression: "zlib" });
const items = [];
for await (const item of await rpc.count(3)) items.push(item);
const missing = await rpc.nope().catch((err) => err instanceof NotFindError);
console.log(JSON.stringify({ sum: await rpc.testfunc(5, 4), items, missing }));
await rpc.close();
await server.close();
`;

/** `npx mprpc serve` a module, then `npx mprpc call` it: the command line as a user runs it. */
async function checkServeAndCall(project: string): Promise<void> {
  Deno.writeTextFileSync(`${project}/api.mjs`, "export function add(a, b) { return a + b; }\n");
  // The installed bin itself, not through npx, which would not pass on the SIGTERM below.
  const bin = `${project}/node_modules/.bin/mprpc`;
  const args = ["serve", "api.mjs", "--port", "0", "--executor", "inline"];
  const serve = new Deno.Command(bin, { args, cwd: project, stdout: "piped", stderr: "inherit" })
    .spawn();
  const lines = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const { value = "" } = await lines.read();
    const address = /listening on (\S+)/.exec(value)?.[1];
    if (!address) throw new Error(`mprpc serve printed ${JSON.stringify(value)}`);
    const url = `tcp://admin:admin@${address}`;
    const sum = run("npx", ["--no-install", "mprpc", "call", url, "add", "2", "3"], project);
    if (sum !== "5\n") throw new Error(`mprpc call printed ${JSON.stringify(sum)}`);
  } finally {
    serve.kill("SIGTERM");
    await lines.cancel();
    await serve.status;
  }
}

const [listing] = JSON.parse(run("npm", ["pack", "--dry-run", "--json"], NPM_DIR));
const shipped: string[] = listing.files.map((file: { path: string }) => file.path);
if (shipped.some((path) => path.startsWith("esm/tests/"))) {
  throw new Error("the package ships the test suite");
}
if (!shipped.includes("esm/mod.js") || !shipped.includes("esm/mod.d.ts")) {
  throw new Error("mod.js is missing");
}
const tarball = run("npm", ["pack", "--silent"], NPM_DIR).trim().split("\n").at(-1)!;
const project = Deno.makeTempDirSync({ prefix: "mprpc-npm-" });
try {
  run("npm", ["init", "-y"], project);
  run("npm", ["install", "--no-audit", "--no-fund", `${NPM_DIR}${tarball}`], project);
  Deno.writeTextFileSync(`${project}/smoke.mjs`, SMOKE);
  const output = JSON.parse(run("node", ["smoke.mjs"], project));
  if (!run("npx", ["--no-install", "mprpc", "broker", "--help"], project).includes("--secret")) {
    throw new Error("the mprpc command does not print its usage");
  }
  await checkServeAndCall(project);
  const expected = { sum: 9, items: [0, 1, 2], missing: true };
  if (JSON.stringify(output) !== JSON.stringify(expected)) {
    throw new Error(`unexpected output from the installed package: ${JSON.stringify(output)}`);
  }
  console.log(
    `npm package ok: ${tarball} installs and serves from Node ${
      run("node", ["--version"], project).trim()
    }`,
  );
} finally {
  Deno.removeSync(project, { recursive: true });
  Deno.removeSync(`${NPM_DIR}${tarball}`);
}
