/**
 * The mprpc command line. One command so far, `broker`, which `deno task broker` runs:
 *
 * ```
 * deno run --allow-net --allow-env --allow-read cli.ts broker [--hostname HOST] [--port PORT]
 *   [--auth USER:PASS]... [--secret SECRET] [--report-interval SECONDS] [--max-connections N]
 *   [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]
 * ```
 *
 * In the npm package it is the `mprpc` command (`npx mprpc broker …`).
 *
 * Each flag may come from the environment instead: `MPRPC_BROKER_HOSTNAME`, `MPRPC_BROKER_PORT`,
 * `MPRPC_BROKER_AUTH` (`user:pass,user2:pass2`), `MPRPC_BROKER_SECRET`,
 * `MPRPC_BROKER_REPORT_INTERVAL`, `MPRPC_BROKER_MAX_CONNECTIONS`, `MPRPC_BROKER_TLS_CERT`,
 * `MPRPC_BROKER_TLS_KEY`, `MPRPC_BROKER_TLS_CA`; a flag wins. A hostname other
 * than a loopback one needs `--auth`: the default admin:admin is refused there. Give the secret by environment: other users of the
 * machine can read a process's flags. The broker prints `listening on HOST:PORT` once bound, logs
 * joins, drops and picks, and closes on SIGINT or SIGTERM.
 *
 * @module
 */
import { readFileSync, realpathSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Broker, type BrokerOptions, type Credential, type TlsServerOptions } from "./mod.ts";
import { refuseDefaultCredentials } from "./src/server/credentials.ts";

const USAGE = `usage: mprpc broker [--hostname HOST] [--port PORT] [--auth USER:PASS]...
                    [--secret SECRET] [--report-interval SECONDS] [--max-connections N]
                    [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]
  --hostname          interface to listen on (MPRPC_BROKER_HOSTNAME; default 127.0.0.1)
  --port              port to listen on, 0 for any (MPRPC_BROKER_PORT; default 7000)
  --auth              credentials clients may present, repeatable
                      (MPRPC_BROKER_AUTH=user:pass,user2:pass2; default admin:admin,
                      refused on a hostname other than a loopback one)
  --secret            what servers present to join (MPRPC_BROKER_SECRET; required)
  --report-interval   seconds between members' load reports (MPRPC_BROKER_REPORT_INTERVAL; default 1)
  --max-connections   connections served at once; past it 503 and close
                      (MPRPC_BROKER_MAX_CONNECTIONS; default 10000)
  --tls-cert          PEM certificate (chain) file: listen with TLS only, for broker+tls://
                      clients and tls:// members (MPRPC_BROKER_TLS_CERT; needs --tls-key)
  --tls-key           its PEM private key file (MPRPC_BROKER_TLS_KEY)
  --tls-ca            PEM file of the CA whose certificates clients and members must present
                      (MPRPC_BROKER_TLS_CA; default: none asked for)`;

/** A flag or variable that makes no sense: reported with the usage, exit status 2. */
class UsageError extends Error {}

function credential(text: string): Credential {
  const at = text.indexOf(":");
  if (at < 1) throw new UsageError(`--auth takes USER:PASS, not '${text}'`);
  return [text.slice(0, at), text.slice(at + 1)];
}

function number(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    throw new UsageError(`--${name} takes a number, not '${text}'`);
  }
  return value;
}

/** The broker's options from `args` and `env`; throws a `UsageError` for bad ones. */
export function brokerOptions(
  args: string[],
  env: Record<string, string | undefined>,
): BrokerOptions {
  const { values } = parseArgs({
    args,
    options: {
      hostname: { type: "string" },
      port: { type: "string" },
      auth: { type: "string", multiple: true },
      secret: { type: "string" },
      "report-interval": { type: "string" },
      "max-connections": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-ca": { type: "string" },
    },
    strict: true,
  });
  const auth = values.auth ?? env.MPRPC_BROKER_AUTH?.split(",").filter(Boolean);
  const secret = values.secret ?? env.MPRPC_BROKER_SECRET;
  if (!secret) throw new UsageError("a secret is required: --secret or MPRPC_BROKER_SECRET");
  const hostname = values.hostname ?? env.MPRPC_BROKER_HOSTNAME;
  if (hostname !== undefined) defaultCredentials(hostname, auth);
  const interval = values["report-interval"] ?? env.MPRPC_BROKER_REPORT_INTERVAL;
  const maxConnections = values["max-connections"] ?? env.MPRPC_BROKER_MAX_CONNECTIONS;
  const tls = tlsOptions(
    values["tls-cert"] ?? env.MPRPC_BROKER_TLS_CERT,
    values["tls-key"] ?? env.MPRPC_BROKER_TLS_KEY,
    values["tls-ca"] ?? env.MPRPC_BROKER_TLS_CA,
  );
  return {
    hostname,
    port: number("port", values.port ?? env.MPRPC_BROKER_PORT),
    auth: auth?.map(credential),
    secret,
    reportInterval: number("report-interval", interval),
    maxConnections: number("max-connections", maxConnections),
    ...tls && { tls },
  };
}

// The TLS options from their files: a certificate and its key together, or neither.
function tlsOptions(cert?: string, key?: string, ca?: string): TlsServerOptions | undefined {
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new UsageError("TLS needs both --tls-cert and --tls-key");
  }
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new UsageError(`--${flag}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return {
    cert: read("tls-cert", cert),
    key: read("tls-key", key),
    ...ca !== undefined && { ca: read("tls-ca", ca) },
  };
}

// The Broker's refusal of the default credentials, in the command line's terms.
function defaultCredentials(hostname: string, auth: string[] | undefined): void {
  try {
    refuseDefaultCredentials("broker", hostname, auth && []);
  } catch {
    throw new UsageError(
      `listening on ${hostname} needs --auth USER:PASS (or MPRPC_BROKER_AUTH): the default ` +
        `admin:admin would let in anyone who can reach it`,
    );
  }
}

/**
 * Runs the command line `argv` (without the program's name) to its end; the exit status. The npm
 * package's `mprpc` command calls it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "./cli.ts";
 * const log = console.log;
 * console.log = () => {}; // the usage text
 * try {
 *   assert.equal(await main(["broker", "--help"]), 0);
 *   assert.equal(await main(["frobnicate"]), 2);
 * } finally {
 *   console.log = log;
 * }
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command !== "broker" || args.includes("--help")) {
    console.log(USAGE);
    return command === "broker" ? 0 : 2;
  }
  let broker: Broker;
  try {
    broker = new Broker(brokerOptions(args, process.env));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : err}\n${USAGE}`);
    return 2;
  }
  try {
    await broker.listen();
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    return 1;
  }
  console.log(`listening on ${broker.addr.hostname}:${broker.addr.port}`);
  await broker.runForever();
  return 0;
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
