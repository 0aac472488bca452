/**
 * `mprpc broker`: runs a broker until SIGINT or SIGTERM.
 *
 * @module
 */
import process from "node:process";
import { Broker, type BrokerOptions } from "../broker/broker.ts";
import {
  type Command,
  credential,
  type Flags,
  numberFlag,
  parseFlags,
  refuseDefaultCredentials,
  stringFlag,
  tlsServerOptions,
  UsageError,
} from "./args.ts";
import { listenAndServe } from "./output.ts";

const FLAGS = {
  hostname: "string",
  port: "string",
  auth: "multiple",
  secret: "string",
  "report-interval": "string",
  "max-connections": "string",
  "tls-cert": "string",
  "tls-key": "string",
  "tls-ca": "string",
  "metrics-port": "string",
} as const;

/**
 * The broker's options from `args` and `env` (a flag wins over its variable); throws a
 * `UsageError` for bad ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { brokerOptions } from "./broker.ts";
 * const options = brokerOptions(["--port", "7100"], { MPRPC_BROKER_SECRET: "s" });
 * assert.equal(options.port, 7100);
 * assert.throws(() => brokerOptions([], {}), /a secret is required/);
 * ```
 */
export function brokerOptions(
  args: string[],
  env: Record<string, string | undefined>,
): BrokerOptions {
  const { flags, positionals } = parseFlags(args, FLAGS);
  return fromFlags(flags, positionals, env);
}

function fromFlags(
  values: Flags,
  positionals: string[],
  env: Record<string, string | undefined>,
): BrokerOptions {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const flag = (name: keyof typeof FLAGS, variable: string) =>
    stringFlag(values, name) ?? env[`MPRPC_BROKER_${variable}`];
  const auth = values.auth as string[] | undefined ??
    env.MPRPC_BROKER_AUTH?.split(",").filter(Boolean);
  const secret = flag("secret", "SECRET");
  if (!secret) throw new UsageError("a secret is required: --secret or MPRPC_BROKER_SECRET");
  const hostname = flag("hostname", "HOSTNAME");
  if (hostname !== undefined) refuseDefaultCredentials(hostname, auth, "MPRPC_BROKER_AUTH");
  const tls = tlsServerOptions(
    flag("tls-cert", "TLS_CERT"),
    flag("tls-key", "TLS_KEY"),
    flag("tls-ca", "TLS_CA"),
  );
  return {
    hostname,
    port: numberFlag("port", flag("port", "PORT")),
    auth: auth?.map(credential),
    secret,
    reportInterval: numberFlag("report-interval", flag("report-interval", "REPORT_INTERVAL")),
    maxConnections: numberFlag("max-connections", flag("max-connections", "MAX_CONNECTIONS")),
    metricsPort: numberFlag("metrics-port", flag("metrics-port", "METRICS_PORT")),
    ...tls && { tls },
  };
}

/** `mprpc broker`. */
export const broker: Command = {
  usage: `usage: mprpc broker [--hostname HOST] [--port PORT] [--auth USER:PASS]...
                    [--secret SECRET] [--report-interval SECONDS] [--max-connections N]
                    [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--metrics-port PORT]
Runs a broker: servers join it (mprpc serve --broker), clients given broker:// URLs are sent to
the least loaded. It prints \`listening on HOST:PORT\` once bound and closes on SIGINT or SIGTERM.
  --hostname          interface to listen on (MPRPC_BROKER_HOSTNAME; default 127.0.0.1)
  --port              port to listen on, 0 for any (MPRPC_BROKER_PORT; default 7000)
  --auth              credentials clients may present, repeatable
                      (MPRPC_BROKER_AUTH=user:pass,user2:pass2; default admin:admin,
                      refused on a hostname other than a loopback one)
  --secret            what servers present to join (MPRPC_BROKER_SECRET; required; give it by
                      environment: other users of the machine can read a process's flags)
  --report-interval   seconds between members' load reports (MPRPC_BROKER_REPORT_INTERVAL; default 1)
  --max-connections   connections served at once; past it 503 and close
                      (MPRPC_BROKER_MAX_CONNECTIONS; default 10000)
  --tls-cert          PEM certificate (chain) file: listen with TLS only, for broker+tls://
                      clients and tls:// members (MPRPC_BROKER_TLS_CERT; needs --tls-key)
  --tls-key           its PEM private key file (MPRPC_BROKER_TLS_KEY)
  --tls-ca            PEM file of the CA whose certificates clients and members must present
                      (MPRPC_BROKER_TLS_CA; default: none asked for)
  --metrics-port      serve Prometheus metrics (members' load, picks) over HTTP at
                      http://HOSTNAME:PORT/metrics, 0 for any port (MPRPC_BROKER_METRICS_PORT;
                      default: none)`,
  flags: FLAGS,
  run(flags, positionals) {
    return listenAndServe(new Broker(fromFlags(flags, positionals, process.env)));
  },
};
