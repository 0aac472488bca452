/** Running the command line (cli.ts) as a real process, as its users do. */
import { run, scriptCommand } from "../test_platform.deno.ts";
import type { Finished } from "../test_platform.ts";
import { ScriptProcess } from "../helpers.ts";

/** cli.ts (cli.js in the npm build). */
export const CLI: URL = new URL("../../cli.ts", import.meta.url);

/** Runs `mprpc ARGS…` to its end: its exit status, stdout and stderr. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<Finished> {
  const [command, runArgs] = scriptCommand(CLI);
  return run(command, [...runArgs, ...args], env);
}

/** Starts `mprpc ARGS…`, for a test that reads its output line by line or signals it. */
export function startCli(args: string[], env: Record<string, string> = {}): ScriptProcess {
  return new ScriptProcess(CLI, env, args);
}
