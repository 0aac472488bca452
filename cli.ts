/**
 * The mprpc command line: `deno task mprpc COMMAND …` (or `deno run --allow-net --allow-read
 * --allow-env --allow-ffi cli.ts COMMAND …`), and `npx mprpc COMMAND …` from the npm package.
 *
 * ```
 * mprpc call URL METHOD [ARG...] [--kwargs JSON]   call a method, print its result as JSON
 * mprpc list URL                                   the server's methods
 * mprpc describe URL METHOD                        a method's signature and documentation
 * mprpc ping URL [--count N] [--interval S]        heartbeat round trips
 * mprpc serve MODULE [--port PORT] …               serve a module's exported functions
 * mprpc broker [--port PORT] …                     run a broker
 * ```
 *
 * `mprpc COMMAND --help` tells each command's flags. The commands live in src/cli/.
 *
 * @module
 */
import process from "node:process";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Command, runCommand } from "./src/cli/args.ts";
import { broker } from "./src/cli/broker.ts";
import { call, describe, list, ping } from "./src/cli/client.ts";
import { serve } from "./src/cli/serve.ts";

const COMMANDS: Record<string, Command> = { call, list, describe, ping, serve, broker };

const USAGE = `usage: mprpc COMMAND [ARG...] [FLAG...]
  call URL METHOD [ARG...]   call a method and print its result (a stream: item by item) as JSON
  list URL                   the server's methods
  describe URL METHOD        a method's signature and documentation
  ping URL                   round trips of the protocol's heartbeat
  serve MODULE               serve a module's exported functions
  broker                     run a broker
URL is tcp://USER:PASS@HOST:PORT, tls://…, or broker://USER:PASS@HOST:PORT[,HOST:PORT…].
\`mprpc COMMAND --help\` tells more. Exit status: 0 done, 1 the call failed, 2 usage,
3 no connection, 130 interrupted.`;

/**
 * Runs the command line `argv` (without the program's name) to its end; the exit status. The npm
 * package's `mprpc` command calls it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./cli.ts";
 * const [log, error] = [console.log, console.error];
 * console.log = console.error = () => {}; // the usage texts
 * try {
 *   assert.equal(await main(["--help"]), 0);
 *   assert.equal(await main(["broker", "--help"]), 0);
 *   assert.equal(await main(["frobnicate"]), 2);
 *   assert.equal(await main(["call", "tcp://a:b@127.0.0.1:1"]), 2); // no METHOD
 * } finally {
 *   [console.log, console.error] = [log, error];
 * }
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name ?? "") ? COMMANDS[name] : undefined;
  if (!command) {
    console.error(`${name === undefined ? "no command" : `unknown command '${name}'`}\n${USAGE}`);
    return 2;
  }
  return await runCommand(command, args);
}

// Whether this module is the program, not imported (by its tests). Node before 24.2 has no
// import.meta.main: there the program is the script node was given (a link, for an npm bin).
function isProgram(): boolean {
  const { main } = import.meta as { main?: boolean };
  if (main !== undefined) return main;
  const script = process.argv[1];
  return script !== undefined && realpathSync(script) === fileURLToPath(import.meta.url);
}

if (isProgram()) process.exitCode = await main(process.argv.slice(2));
