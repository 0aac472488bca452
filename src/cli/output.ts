/**
 * What the command line prints: values as JSON, errors as `error CODE CLASS: MESSAGE`, lines
 * written one at a time (a reader of a stream sees each item as it arrives), and timing for a
 * person watching a terminal.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { errorClassName, MprpcError } from "../protocol/errors.ts";

/** Exit statuses of the command line. */
export const Exit = {
  /** It worked. */
  OK: 0,
  /** The call failed: the server's error answer, or `--timeout`. */
  FAILED: 1,
  /** A usage error: an unknown command or flag, a bad value. */
  USAGE: 2,
  /** No connection: could not connect, the login was refused, or the connection was lost. */
  UNAVAILABLE: 3,
  /** Stopped by SIGINT or SIGTERM (128 + SIGINT's number, as shells report it). */
  INTERRUPTED: 130,
} as const;

/**
 * `value` as one line of JSON, including what JSON has no type for: bytes become
 * `{"$bytes": "<base64>"}` (which {@linkcode parseArg} turns back into bytes) and a bigint its
 * exact digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJson } from "./output.ts";
 * assert.equal(
 *   toJson({ a: [1, "x", null], b: new Uint8Array([1, 2, 3]), n: 2n ** 64n }),
 *   '{"a":[1,"x",null],"b":{"$bytes":"AQID"},"n":18446744073709551616}',
 * );
 * ```
 */
export function toJson(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) {
    const base64 = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64");
    return `{"$bytes":${JSON.stringify(base64)}}`;
  }
  if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`;
  if (value instanceof Map) return toJson(Object.fromEntries(value));
  if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    const fields = Object.entries(value).filter(([, field]) => field !== undefined);
    return `{${fields.map(([key, field]) => `${JSON.stringify(key)}:${toJson(field)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * A command-line argument as a value: JSON if it parses (with `{"$bytes": "<base64>"}` as
 * bytes), else the text itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArg } from "./output.ts";
 * assert.equal(parseArg("42"), 42);
 * assert.deepEqual(parseArg('{"x": [true]}'), { x: [true] });
 * assert.equal(parseArg("hello"), "hello");
 * assert.equal(parseArg('"42"'), "42");
 * assert.deepEqual(parseArg('{"$bytes": "AQID"}'), new Uint8Array([1, 2, 3]));
 * ```
 */
export function parseArg(text: string): unknown {
  try {
    return JSON.parse(text, (_key, value) => bytesOf(value) ?? value);
  } catch {
    return text;
  }
}

function bytesOf(value: unknown): Uint8Array | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  const base64 = (value as { $bytes?: unknown }).$bytes;
  if (keys.length !== 1 || typeof base64 !== "string") return undefined;
  return new Uint8Array(Buffer.from(base64, "base64"));
}

/** An error as the command line reports it: `error CODE CLASS: MESSAGE` for an MPRPC error. */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof MprpcError) return `error ${err.code} ${errorClassName(err)}: ${message}`;
  return `error: ${message}`;
}

// stdout's write errors (EPIPE once the reader is gone) are reported to each write's callback;
// without a listener the stream's "error" event would also end the process.
let listening = false;

/**
 * Writes `text` and a newline to stdout; resolves once written, rejects if stdout is closed
 * (`mprpc call … | head -1`).
 */
export function writeLine(text: string): Promise<void> {
  if (!listening) {
    process.stdout.on("error", () => {});
    listening = true;
  }
  return new Promise((resolve, reject) => {
    process.stdout.write(`${text}\n`, (err) => err ? reject(err) : resolve());
  });
}

/** Whether `err` is a write to stdout whose reader is gone (EPIPE). */
export function isClosedOutput(err: unknown): boolean {
  return (err as { code?: string })?.code === "EPIPE" || (err as Error)?.name === "BrokenPipe";
}

/** Writes `text` on stderr if it is a terminal: progress and timing for a person waiting. */
export function note(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${text}\n`);
}

/** Milliseconds, as the command line shows them. */
export function ms(value: number): string {
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ms`;
}

/** What `serve` and `broker` run: a `Server` or a `Broker`. */
export interface Service {
  /** Binds its ports. */
  listen(): Promise<void>;
  /** Where it listens. */
  readonly addr: { hostname: string; port: number };
  /** Where it serves metrics (`--metrics-port`), if it does. */
  readonly metricsAddr: { hostname: string; port: number } | undefined;
  /** Serves until SIGINT or SIGTERM, then closes. */
  runForever(): Promise<void>;
  /** Closes it. */
  close(): Promise<void>;
}

/**
 * Listens, prints `listening on HOST:PORT` (and where metrics are served), and serves until
 * SIGINT or SIGTERM; the exit status. One that cannot listen is closed, its reason printed.
 */
export async function listenAndServe(service: Service): Promise<number> {
  try {
    await service.listen();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    await service.close();
    return Exit.FAILED;
  }
  console.log(`listening on ${service.addr.hostname}:${service.addr.port}`);
  const metrics = service.metricsAddr;
  if (metrics) {
    const host = metrics.hostname.includes(":") ? `[${metrics.hostname}]` : metrics.hostname;
    console.log(`metrics on http://${host}:${metrics.port}/metrics`);
  }
  await service.runForever();
  return Exit.OK;
}
