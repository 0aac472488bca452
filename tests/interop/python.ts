/** Running Python (Debian's python3, which has apt's python3-msgpack) from tests. */
import { env, spawn } from "../test_platform.deno.ts";

/** The interpreter; `MPRPC_PYTHON` overrides it. */
export const PYTHON = env("MPRPC_PYTHON") ?? "/usr/bin/python3";

/**
 * Runs python with `args`, `input` on stdin and `env` added to its environment; resolves to stdout,
 * rejects on a non-zero exit.
 */
export async function runPython(
  args: string[],
  input: Uint8Array = new Uint8Array(),
  env: Record<string, string> = {},
): Promise<string> {
  const child = spawn(PYTHON, args, env);
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const stdout = new Response(child.stdout).text();
  const code = await child.status;
  if (code !== 0) {
    throw new Error(`python ${args[0]} exited with code ${code} (its stderr is above)`);
  }
  return await stdout;
}
