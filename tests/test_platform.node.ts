/** The test platform for `node --test` (see test_platform.ts); the npm build puts it in place. */
import { Buffer } from "node:buffer";
import { spawn as spawnChild } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFile as readFileNode, rm, writeFile as writeFileNode } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import net from "node:net";
import os from "node:os";
import process from "node:process";
import { Readable, Writable } from "node:stream";
import { test as nodeTest } from "node:test";
import { isMainThread } from "node:worker_threads";
import type { Child, Finished, RuntimeInfo, TcpConnection, TcpListener } from "./test_platform.ts";

/** Registers a test. */
export const test = (name: string, fn: () => void | Promise<void>): void => void nodeTest(name, fn);

function wrap(socket: net.Socket): TcpConnection {
  socket.setNoDelay(true);
  const chunks: Uint8Array[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  socket.on("data", (chunk: Uint8Array) => (chunks.push(chunk), notify()));
  const end = () => ((ended = true), notify());
  socket.on("end", end);
  socket.on("close", end);
  socket.on("error", end);
  return {
    async read(buffer) {
      while (chunks.length === 0 && !ended) await new Promise<void>((resolve) => wake = resolve);
      const chunk = chunks.shift();
      if (!chunk) return null;
      const n = Math.min(buffer.length, chunk.length);
      buffer.set(chunk.subarray(0, n));
      if (n < chunk.length) chunks.unshift(chunk.subarray(n));
      return n;
    },
    write: (bytes) =>
      new Promise<void>((resolve, reject) =>
        socket.write(bytes, (err) => err ? reject(err) : resolve())
      ),
    close: () => void socket.destroy(),
  };
}

/** Connects to 127.0.0.1:`port`. */
export function connectTcp(port: number): Promise<TcpConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => resolve(wrap(socket)));
    socket.once("error", reject);
  });
}

/** Listens on 127.0.0.1, port chosen by the OS. */
export function listenTcp(): Promise<TcpListener> {
  const server = net.createServer();
  const pending: net.Socket[] = [];
  const waiting: Array<(socket: net.Socket) => void> = [];
  server.on("connection", (socket) => {
    const take = waiting.shift();
    if (take) take(socket);
    else pending.push(socket);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        accept: async () =>
          wrap(pending.shift() ?? await new Promise((take) => waiting.push(take))),
        close: () => void server.close(),
      });
    });
  });
}

/** Starts `command`, stdout and stdin piped, stderr inherited. */
export function spawn(command: string, args: string[], env: Record<string, string> = {}): Child {
  const child = spawnChild(command, args, {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  return {
    stdout: Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>,
    stdin: Writable.toWeb(child.stdin!) as WritableStream<Uint8Array>,
    kill: (signal = "SIGTERM") => void child.kill(signal),
    status: new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1))),
  };
}

/** Runs `command` to its end, stdin empty, stdout and stderr captured. */
export function run(
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Finished> {
  const child = spawnChild(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
      }));
  });
}

/** The command that runs a test fixture script (compiled beside this file). */
export function scriptCommand(file: URL): [string, string[]] {
  return [process.execPath, [file.pathname]];
}

/** Node has no permissions to withhold: the tests that need this skip themselves. */
export function scriptCommandWithoutRead(_file: URL): [string, string[]] | undefined {
  return undefined;
}

/** Reads a file. */
export async function readFile(url: URL): Promise<Uint8Array> {
  return new Uint8Array(await readFileNode(url));
}

/** Creates an empty file in the temporary directory; its URL. */
export async function makeTempFile(): Promise<URL> {
  const file = join(os.tmpdir(), `mprpc-${randomUUID()}`);
  await writeFileNode(file, "", { flag: "wx" });
  return pathToFileURL(file);
}

/** Writes `text` to a file, creating it if needed. */
export function writeTextFile(url: URL, text: string): Promise<void> {
  return writeFileNode(url, text);
}

/** Removes a file; one already gone is not an error. */
export function removeFile(url: URL): Promise<void> {
  return rm(url, { force: true });
}

/** An environment variable. */
export function env(name: string): string | undefined {
  return process.env[name];
}

/** Ends the process at once (a crash, for tests). */
export function exit(code: number): never {
  process.exit(code);
}

/** Ends the current worker thread from inside, the runtime's own way (`process.exit()`). */
export function exitWorker(): void {
  process.exit(0);
}

/** Whether this code runs in a worker thread. */
export function inWorker(): boolean {
  return !isMainThread;
}

/** The runtime, for benchmark reports. */
export function runtime(): RuntimeInfo {
  return {
    name: `Node ${process.version}`,
    cores: os.availableParallelism(),
    args: process.argv.slice(2),
  };
}
