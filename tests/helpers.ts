/** Shared test fixtures: servers on 127.0.0.1:0 and a raw wire client independent of src/. */
import { type LogFields, type Logger, Server, type ServerOptions } from "../mod.ts";
import { decode, encode } from "./test_deps.ts";
import {
  connectTcp,
  makeTempFile,
  readFile,
  removeFile,
  scriptCommand,
  spawn,
  writeTextFile,
} from "./test_platform.deno.ts";
import type { Child, TcpConnection } from "./test_platform.ts";

export const TERM = new TextEncoder().encode("##PRO-END##");

/** A logger that drops every record: tests about logging pass their own. */
export const silentLogger = { info() {}, warn() {}, error() {} };

/**
 * A listening server on an OS-chosen port; `setup` registers its methods. It logs nothing unless
 * `options.logger` is given: bad input is what many tests send on purpose.
 */
export async function startServer(
  options: ServerOptions = {},
  setup: (server: Server) => void = () => {},
): Promise<Server> {
  const server = new Server({ hostname: "127.0.0.1", port: 0, logger: silentLogger, ...options });
  setup(server);
  await server.listen();
  return server;
}

/**
 * A server started as its own process (it prints its port first): the script `file` run by this
 * runtime, or an explicit `[command, args]`.
 */
export async function spawnServer(
  script: URL | [string, string[]],
  env: Record<string, string> = {},
) {
  const [command, args] = script instanceof URL ? scriptCommand(script) : script;
  const child = spawn(command, args, env);
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  // The port is the first line; a server may print more (its pid) in the same chunk.
  const port = Number.parseInt((await lines.read()).value ?? "");
  return {
    url: `tcp://admin:admin@127.0.0.1:${port}`,
    /** Stops the server (if still running) and waits for the process to end. */
    async [Symbol.asyncDispose]() {
      child.kill();
      await lines.cancel();
      await child.stdin.close().catch(() => {});
      await child.status;
    },
  };
}

/** `parts` joined into one buffer. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) out.set(part, at), at += part.length;
  return out;
}

/** Every item of an async iterable (`Array.fromAsync`, which Node 20 lacks). */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The client URL of `server`. */
export function urlOf(server: Server, credentials = "admin:admin"): string {
  return `tcp://${credentials}@127.0.0.1:${server.addr.port}`;
}

/** A promise with its resolve function, for waiting on events in tests. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

/** The index of `needle` in `haystack`, or -1 (naive on purpose: independent of src/wire/terminator.ts). */
export function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * A deliberately simple MPRPC peer for wire-level tests: frames with a naive search, encodes
 * with plain msgpack (or JSON), and exposes raw bytes.
 */
export class WireClient {
  #conn: TcpConnection;
  #buffer = new Uint8Array(0);
  #json: boolean;
  /** Frame with a 4-byte length instead of the terminator (after a len32 handshake). */
  length32 = false;

  private constructor(conn: TcpConnection, json: boolean) {
    this.#conn = conn;
    this.#json = json;
  }

  static async open(port: number, options: { json?: boolean } = {}): Promise<WireClient> {
    return new WireClient(await connectTcp(port), options.json ?? false);
  }

  /** The same, on a connection a test's listener accepted: a bare 0.1 peer playing a server. */
  static over(conn: TcpConnection): WireClient {
    return new WireClient(conn, false);
  }

  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.#conn.write(bytes);
  }

  encode(message: unknown): Uint8Array {
    return this.#json ? new TextEncoder().encode(JSON.stringify(message)) : encode(message);
  }

  /** `message` framed as this client frames it (terminator, or len32). */
  frame(message: unknown): Uint8Array {
    const payload = this.encode(message);
    const frame = new Uint8Array(payload.length + TERM.length);
    if (this.length32) {
      new DataView(frame.buffer).setUint32(0, payload.length);
      frame.set(payload, 4);
      return frame.subarray(0, payload.length + 4);
    }
    frame.set(payload);
    frame.set(TERM, payload.length);
    return frame;
  }

  async send(message: unknown): Promise<void> {
    await this.sendRaw(this.frame(message));
  }

  // The next complete payload in the buffer, or undefined.
  #frame(): Uint8Array | undefined {
    if (this.length32) {
      if (this.#buffer.length < 4) return undefined;
      const length = new DataView(this.#buffer.buffer, this.#buffer.byteOffset).getUint32(0);
      if (this.#buffer.length < 4 + length) return undefined;
      const payload = this.#buffer.slice(4, 4 + length);
      this.#buffer = this.#buffer.slice(4 + length);
      return payload;
    }
    const at = indexOf(this.#buffer, TERM);
    if (at === -1) return undefined;
    const payload = this.#buffer.slice(0, at);
    this.#buffer = this.#buffer.slice(at + TERM.length);
    return payload;
  }

  /** The next message, or `undefined` once the server closed the connection. */
  async next(): Promise<Record<string, unknown> | undefined> {
    while (true) {
      const payload = this.#frame();
      if (payload) {
        return (this.#json
          ? JSON.parse(new TextDecoder().decode(payload))
          : decode(payload)) as Record<
            string,
            unknown
          >;
      }
      const chunk = new Uint8Array(65536);
      const n = await this.#conn.read(chunk);
      if (n === null) return undefined;
      const joined = new Uint8Array(this.#buffer.length + n);
      joined.set(this.#buffer);
      joined.set(chunk.subarray(0, n), this.#buffer.length);
      this.#buffer = joined;
    }
  }

  /** Sends the handshake (asking for `extensions`, if any) and returns the reply. */
  async login(
    username: string | null = "admin",
    password: string | null = "admin",
    extensions?: string[],
  ) {
    const auth = {
      USERNAME: username,
      PASSWORD: password,
      ...(extensions ? { EXT: extensions } : {}),
    };
    await this.send({ MPRPC: "0.1", AUTH: auth });
    return await this.next();
  }

  /** A call, framed: to send many in one write. */
  callFrame(
    id: string,
    method: string,
    args: unknown[] = [],
    extra: Record<string, unknown> = {},
  ): Uint8Array {
    return this.frame({ MPRPC: "0.1", ID: id, METHOD: method, RETURN: true, ARGS: args, ...extra });
  }

  /** Sends a call. */
  call(id: string, method: string, args: unknown[] = [], extra: Record<string, unknown> = {}) {
    return this.sendRaw(this.callFrame(id, method, args, extra));
  }

  close(): void {
    this.#conn.close();
  }
}

/**
 * A `Logger` that keeps every record and lets a test wait for an event instead of sleeping:
 * `await log.next("pool worker recovered")` resolves with the fields of the next such record.
 */
export class LogRecorder implements Logger {
  /** Every record so far, in order. */
  readonly records: { level: string; event: string; fields: LogFields }[] = [];
  #waiting: { event: string; resolve(fields: LogFields): void }[] = [];

  info(event: string, fields: LogFields): void {
    this.#record("info", event, fields);
  }

  warn(event: string, fields: LogFields): void {
    this.#record("warn", event, fields);
  }

  error(event: string, fields: LogFields): void {
    this.#record("error", event, fields);
  }

  /** Resolves once `event` has been logged: at once if it already was. */
  logged(event: string): Promise<LogFields> {
    const seen = this.records.find((record) => record.event === event);
    return seen ? Promise.resolve(seen.fields) : this.next(event);
  }

  /** The fields of the next record of `event` logged from now on. */
  next(event: string): Promise<LogFields> {
    return new Promise((resolve) => this.#waiting.push({ event, resolve }));
  }

  #record(level: string, event: string, fields: LogFields): void {
    this.records.push({ level, event, fields });
    const woken = this.#waiting.filter((waiter) => waiter.event === event);
    this.#waiting = this.#waiting.filter((waiter) => waiter.event !== event);
    for (const waiter of woken) waiter.resolve(fields);
  }
}

/** A process that prints its port first, then lines the test may wait for. */
export class ScriptProcess {
  readonly #child: Child;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  port = 0;

  /** Runs `file` with `env`, and `args` on its command line. */
  constructor(file: URL, env: Record<string, string>, args: string[] = []) {
    const [command, runArgs] = scriptCommand(file);
    this.#child = spawn(command, [...runArgs, ...args], env);
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  static async start(file: URL, env: Record<string, string>): Promise<ScriptProcess> {
    const proc = new ScriptProcess(file, env);
    try {
      proc.port = Number(await within(proc.line(), 20_000, `${file.pathname} did not start`));
    } catch (err) {
      await proc[Symbol.asyncDispose]();
      throw err;
    }
    return proc;
  }

  /** The next line of its output. */
  async line(): Promise<string> {
    while (!this.#buffer.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the process ended");
      this.#buffer += value;
    }
    const at = this.#buffer.indexOf("\n");
    const line = this.#buffer.slice(0, at);
    this.#buffer = this.#buffer.slice(at + 1);
    return line;
  }

  /** The next JSON line whose `event` is `event`. */
  async event(event: string): Promise<Record<string, unknown>> {
    while (true) {
      const record = JSON.parse(await this.line());
      if (record.event === event) return record;
    }
  }

  kill(signal: "SIGTERM" | "SIGKILL"): Promise<number> {
    this.#child.kill(signal);
    return this.#child.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#child.kill("SIGKILL");
    await this.#reader.cancel().catch(() => {});
    await this.#child.stdin.close().catch(() => {});
    await this.#child.status;
  }
}

/** `promise`, or a failure naming `what` after `ms`: a broken build fails instead of hanging. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expiry]);
  } finally {
    clearTimeout(timer);
  }
}

/** PEM text of a certificate and its key. */
export interface Pem {
  cert: string;
  key: string;
}

/** Test certificates, made by {@linkcode makeCertificates}. */
export interface Certificates {
  /** The CA that signed the others (PEM). */
  ca: string;
  /** For `localhost` and 127.0.0.1. */
  server: Pem;
  /** For `localhost` and 127.0.0.1, expired yesterday. */
  expired: Pem;
  /** For `elsewhere.example` only. */
  wrongHost: Pem;
  /** A client certificate, CN=alice, O=mprpc tests. */
  client: Pem;
  /** A client certificate signed by another CA. */
  stranger: Pem;
}

/** Fresh certificates from Debian's `openssl` (EC keys: fast), made in a temporary folder. */
export async function makeCertificates(): Promise<Certificates> {
  const base = (await makeTempFile()).pathname;
  const files: string[] = [base];
  const path = (name: string) => (files.push(`${base}.${name}`), `${base}.${name}`);
  const run = async (...args: string[]) => {
    const child = spawn("openssl", args);
    await child.stdout.cancel();
    await child.stdin.close();
    const code = await child.status;
    if (code !== 0) throw new Error(`openssl ${args.join(" ")} failed (${code})`);
  };
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const makeCa = async (name: string) => {
    await run(
      "req",
      "-x509",
      ...key,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.pem`),
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
  };
  const issue = async (name: string, ca: string, subject: string, ext: string, days = "2") => {
    const extFile = path(`${name}.ext`);
    await writeTextFile(new URL(`file://${extFile}`), `basicConstraints=CA:FALSE\n${ext}\n`);
    await run(
      "req",
      ...key,
      "-keyout",
      path(`${name}.key`),
      "-out",
      path(`${name}.csr`),
      "-subj",
      subject,
    );
    await run(
      "x509",
      "-req",
      "-in",
      `${base}.${name}.csr`,
      "-CA",
      `${base}.${ca}.pem`,
      "-CAkey",
      `${base}.${ca}.key`,
      "-CAcreateserial",
      "-out",
      path(`${name}.pem`),
      "-days",
      days,
      "-extfile",
      extFile,
    );
  };
  try {
    await makeCa("ca");
    await makeCa("other");
    const serverExt = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth";
    await issue("server", "ca", "/CN=localhost", serverExt);
    await issue("expired", "ca", "/CN=localhost", serverExt, "-1");
    await issue(
      "wrong",
      "ca",
      "/CN=elsewhere",
      "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth",
    );
    await issue("client", "ca", "/CN=alice/O=mprpc tests", "extendedKeyUsage=clientAuth");
    await issue("stranger", "other", "/CN=mallory", "extendedKeyUsage=clientAuth");
    const text = async (name: string) =>
      new TextDecoder().decode(await readFile(new URL(`file://${base}.${name}`)));
    const pem = async (name: string) => ({
      cert: await text(`${name}.pem`),
      key: await text(`${name}.key`),
    });
    return {
      ca: await text("ca.pem"),
      server: await pem("server"),
      expired: await pem("expired"),
      wrongHost: await pem("wrong"),
      client: await pem("client"),
      stranger: await pem("stranger"),
    };
  } finally {
    files.push(`${base}.ca.srl`, `${base}.other.srl`);
    await Promise.all(files.map((file) => removeFile(new URL(`file://${file}`))));
  }
}
