/** The test platform for `deno test` (see test_platform.ts). */
import type { Child, Finished, RuntimeInfo, TcpConnection, TcpListener } from "./test_platform.ts";

/** Registers a test. */
export const test: (name: string, fn: () => void | Promise<void>) => void = Deno.test;

function wrap(conn: Deno.TcpConn): TcpConnection {
  conn.setNoDelay(true);
  return {
    async read(buffer) {
      try {
        return await conn.read(buffer);
      } catch {
        return null;
      }
    },
    async write(bytes) {
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    },
    close() {
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
}

/** Connects to 127.0.0.1:`port`. */
export async function connectTcp(port: number): Promise<TcpConnection> {
  return wrap(await Deno.connect({ hostname: "127.0.0.1", port }));
}

/** Listens on 127.0.0.1, port chosen by the OS. */
export function listenTcp(): Promise<TcpListener> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return Promise.resolve({
    port: listener.addr.port,
    accept: async () => wrap(await listener.accept()),
    close: () => listener.close(),
  });
}

/** Starts `command`, stdout and stdin piped, stderr inherited. */
export function spawn(command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = new Deno.Command(command, {
    args,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  })
    .spawn();
  return {
    stdout: child.stdout,
    stdin: child.stdin,
    kill: (signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
    },
    status: child.status.then((status) => status.code),
  };
}

/** Runs `command` to its end, stdin empty, stdout and stderr captured. */
export async function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Finished> {
  const output = await new Deno.Command(command, { args, env, stdin: "null" }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

// Scripts that tests start may import test-only packages: they lock them where the tests do, so
// that deno.lock keeps to what the library needs.
const DEV_LOCK = `--lock=${new URL("../deno.dev.lock", import.meta.url).pathname}`;

/** The command that runs the TypeScript script `file` (a test fixture or example). */
export function scriptCommand(file: URL): [string, string[]] {
  return [Deno.execPath(), [
    "run",
    DEV_LOCK,
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-ffi",
    file.pathname,
  ]];
}

/**
 * The command that runs the TypeScript script `file` without permission to read files, or
 * `undefined` where the runtime has no permissions to withhold (Node).
 */
export function scriptCommandWithoutRead(file: URL): [string, string[]] | undefined {
  return [Deno.execPath(), ["run", DEV_LOCK, "--allow-net", "--no-prompt", file.pathname]];
}

/** Reads a file. */
export function readFile(url: URL): Promise<Uint8Array> {
  return Deno.readFile(url);
}

/** Creates an empty file in the temporary directory; its URL. */
export async function makeTempFile(): Promise<URL> {
  return new URL(`file://${await Deno.makeTempFile({ prefix: "mprpc-" })}`);
}

/** Writes `text` to a file, creating it if needed. */
export function writeTextFile(url: URL, text: string): Promise<void> {
  return Deno.writeTextFile(url, text);
}

/** Removes a file; one already gone is not an error. */
export async function removeFile(url: URL): Promise<void> {
  await Deno.remove(url).catch((err) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  });
}

/** An environment variable. */
export function env(name: string): string | undefined {
  return Deno.env.get(name);
}

/** Ends the process at once (a crash, for tests). */
export function exit(code: number): never {
  Deno.exit(code);
}

/** Ends the current worker thread from inside, the runtime's own way (`self.close()`). */
export function exitWorker(): void {
  (globalThis as unknown as { close(): void }).close();
}

/** Whether this code runs in a worker thread. */
export function inWorker(): boolean {
  return "WorkerGlobalScope" in globalThis;
}

/** The runtime, for benchmark reports. */
export function runtime(): RuntimeInfo {
  return {
    name: `Deno ${Deno.version.deno}`,
    cores: navigator.hardwareConcurrency,
    args: Deno.args,
  };
}
