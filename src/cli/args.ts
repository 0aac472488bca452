/**
 * The command line's flags: parsing, the checks every command shares, and the client flags of
 * `call`, `list`, `describe` and `ping`.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import type { ClientOptions } from "../client/client_session.ts";
import { type Credential, refuseDefaultCredentials as refuse } from "../server/credentials.ts";
import type { Compression } from "../protocol/messages.ts";
import type { TlsClientOptions, TlsServerOptions } from "../platform/transport.ts";

/** A flag, argument or variable that makes no sense: reported with the usage, exit status 2. */
export class UsageError extends Error {}

/** A command's flags: each takes a value (`"string"`), several (`"multiple"`), or none. */
export type FlagSpec = Record<string, "string" | "multiple" | "boolean">;

/** Parsed flags: a value, the values of a repeated flag, or `true`. */
export type Flags = Record<string, string | string[] | true | undefined>;

/**
 * Splits `args` into flags (`--name value`, `--name=value`) and positional arguments. Anything
 * not starting with `--` is positional, so `-1` is a number, not a flag; after `--` everything
 * is. An unknown flag, or one without its value, is a `UsageError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseFlags } from "./args.ts";
 * const spec = { port: "string", auth: "multiple", debug: "boolean" } as const;
 * const { flags, positionals } = parseFlags(
 *   ["x", "--port=1", "-1", "--auth", "a:b", "--debug", "--auth", "c:d", "--", "--y"],
 *   spec,
 * );
 * assert.deepEqual(flags, { port: "1", auth: ["a:b", "c:d"], debug: true });
 * assert.deepEqual(positionals, ["x", "-1", "--y"]);
 * assert.throws(() => parseFlags(["--colour"], spec), /unknown flag --colour/);
 * assert.throws(() => parseFlags(["--port"], spec), /--port needs a value/);
 * ```
 */
export function parseFlags(
  args: readonly string[],
  spec: FlagSpec,
): { flags: Flags; positionals: string[] } {
  const flags: Flags = {};
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (kind === undefined) throw new UsageError(`unknown flag --${name}`);
    if (kind === "boolean") {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (kind === "multiple") flags[name] = [...(flags[name] as string[] | undefined ?? []), value];
    else flags[name] = value;
  }
  return { flags, positionals };
}

/** A command: its usage text, its flags, and what it does with them; resolves to the exit status. */
export interface Command {
  /** What `--help` prints (and a usage error, after the error). */
  readonly usage: string;
  /** Its flags besides `--help`. */
  readonly flags: FlagSpec;
  /** Runs it; a `UsageError` it throws (before doing anything) is reported with the usage. */
  run(flags: Flags, positionals: string[]): Promise<number>;
}

/**
 * Runs `command` with `args`: its usage on `--help` (status 0); on a usage error, the error and
 * the usage's synopsis on stderr (status 2).
 */
export async function runCommand(command: Command, args: readonly string[]): Promise<number> {
  try {
    const { flags, positionals } = parseFlags(args, { ...command.flags, help: "boolean" });
    if (flags.help) {
      console.log(command.usage);
      return 0;
    }
    return await command.run(flags, positionals);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${synopsis(command.usage)}\n(--help tells more)`);
    return 2;
  }
}

// The usage's first lines: `usage: …` and its indented continuations.
function synopsis(usage: string): string {
  const lines = usage.split("\n");
  const end = lines.findIndex((line, i) => i > 0 && !line.startsWith(" "));
  return lines.slice(0, end === -1 ? undefined : end).join("\n");
}

/** Checks the number of positional arguments a command takes; a `UsageError` if it is off. */
export function expect(positionals: string[], min: number, max: number, what: string): void {
  if (positionals.length < min || positionals.length > max) {
    throw new UsageError(`expected ${what}, got ${positionals.length} argument(s)`);
  }
}

/** The value of a flag taking one value, or `undefined`. */
export function stringFlag(flags: Flags, name: string): string | undefined {
  return flags[name] as string | undefined;
}

/** `text` as a number of at least `min`; a `UsageError` naming `--name` if it is not. */
export function numberFlag(name: string, text: string | undefined, min = 0): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < min) {
    throw new UsageError(`--${name} takes a number${min > 0 ? ` >= ${min}` : ""}, not '${text}'`);
  }
  return value;
}

/** `USER:PASS` as a credential (the password may hold `:`). */
export function credential(text: string): Credential {
  const at = text.indexOf(":");
  if (at < 1) throw new UsageError(`--auth takes USER:PASS, not '${text}'`);
  return [text.slice(0, at), text.slice(at + 1)];
}

const COMPRESSIONS: readonly Compression[] = ["zlib", "bz2", "lzma"];

/** The compression `--compression` names. */
export function compressionFlag(text: string | undefined): Compression | undefined {
  if (text === undefined) return undefined;
  if (!(COMPRESSIONS as readonly string[]).includes(text)) {
    throw new UsageError(`--compression takes ${COMPRESSIONS.join(", ")}, not '${text}'`);
  }
  return text as Compression;
}

// The text of the PEM file `file` given by `--flag`.
function readPem(flag: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** A server's TLS options from their files: a certificate and its key together, or neither. */
export function tlsServerOptions(
  cert?: string,
  key?: string,
  ca?: string,
): TlsServerOptions | undefined {
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new UsageError("TLS needs both --tls-cert and --tls-key");
  }
  return {
    cert: readPem("tls-cert", cert),
    key: readPem("tls-key", key),
    ...ca !== undefined && { ca: readPem("tls-ca", ca) },
  };
}

/** The flags every client command takes. */
export const CLIENT_FLAGS: FlagSpec = {
  debug: "boolean",
  compression: "string",
  timeout: "string",
  "connect-timeout": "string",
  "tls-ca": "string",
  "tls-cert": "string",
  "tls-key": "string",
};

/** What the client flags say and do, for the usage texts. */
export const CLIENT_FLAGS_HELP =
  `  --debug             JSON on the wire instead of MessagePack (as the server is run)
  --compression NAME  zlib, bz2 or lzma (as the server is run)
  --timeout S         seconds to wait for an answer (a stream: for all of it); default none
  --connect-timeout S seconds to connect and log in; default 10
  --tls-ca FILE       PEM file of the CA that signed a tls:// server's certificate
                      (default: the system's roots)
  --tls-cert FILE     PEM client certificate, for a server that asks for one (with --tls-key)
  --tls-key FILE      its PEM private key`;

/**
 * The client's options from the client flags: no reconnecting (a command is one attempt) and no
 * heartbeat unless the server asks for one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientOptions } from "./args.ts";
 * assert.deepEqual(clientOptions({ debug: true, timeout: "2.5" }), {
 *   reconnect: false,
 *   debug: true,
 *   timeout: 2.5,
 * });
 * assert.throws(() => clientOptions({ compression: "gzip" }), /--compression takes zlib/);
 * ```
 */
export function clientOptions(flags: Flags): ClientOptions {
  const options: ClientOptions = { reconnect: false };
  if (flags.debug) options.debug = true;
  const compression = compressionFlag(stringFlag(flags, "compression"));
  if (compression) options.compression = compression;
  const timeout = numberFlag("timeout", stringFlag(flags, "timeout"));
  if (timeout !== undefined) options.timeout = timeout;
  const connectTimeout = numberFlag("connect-timeout", stringFlag(flags, "connect-timeout"));
  if (connectTimeout !== undefined) options.connectTimeout = connectTimeout;
  const tls = tlsClient(flags);
  if (tls) options.tls = tls;
  return options;
}

function tlsClient(flags: Flags): TlsClientOptions | undefined {
  const [ca, cert, key] = ["tls-ca", "tls-cert", "tls-key"].map((name) => stringFlag(flags, name));
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("a client certificate needs both --tls-cert and --tls-key");
  }
  return {
    ...ca !== undefined && { ca: readPem("tls-ca", ca) },
    ...cert !== undefined && { cert: readPem("tls-cert", cert), key: readPem("tls-key", key!) },
  };
}

/**
 * Refuses the default credentials on a `hostname` other than a loopback one, as `Server` and
 * `Broker` do, in the command line's terms: `--auth` (or the `variable`) must be given there.
 */
export function refuseDefaultCredentials(
  hostname: string,
  auth: readonly string[] | undefined,
  variable: string,
): void {
  try {
    refuse("--hostname", hostname, auth && []);
  } catch {
    throw new UsageError(
      `listening on ${hostname} needs --auth USER:PASS (or ${variable}): the default ` +
        `admin:admin would let in anyone who can reach it`,
    );
  }
}
