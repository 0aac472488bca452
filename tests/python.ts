/** Running Python (Debian's python3, which has apt's python3-msgpack) from tests. */

/** The interpreter; `MPRPC_PYTHON` overrides it. */
export const PYTHON = Deno.env.get("MPRPC_PYTHON") ?? "/usr/bin/python3";

/** Runs `code` with `input` on stdin; resolves to stdout, rejects with stderr on failure. */
export async function runPython(
  code: string,
  input: Uint8Array = new Uint8Array(),
): Promise<string> {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(input);
  await writer.close();
  const { code: status, stdout, stderr } = await child.output();
  if (status !== 0) throw new Error(new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}
