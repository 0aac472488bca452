/**
 * `mprpc serve MODULE`: serves a module's exported functions, with no server code to write.
 *
 * @module
 */
import process from "node:process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Server, type ServerOptions } from "../server/server.ts";
import type { ModuleOptions } from "../server/modules.ts";
import {
  type Command,
  compressionFlag,
  credential,
  expect,
  type Flags,
  numberFlag,
  refuseDefaultCredentials,
  stringFlag,
  tlsServerOptions,
  UsageError,
} from "./args.ts";
import { listenAndServe } from "./output.ts";

/**
 * The module and the server's options from the flags of `serve` and `env`; throws a
 * `UsageError` for bad ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveOptions } from "./serve.ts";
 * const { module, options, server } = serveOptions(
 *   { port: "0", auth: ["app:pw"], executor: "inline" },
 *   ["/srv/api.ts"],
 *   {},
 * );
 * assert.equal(module.href, "file:///srv/api.ts");
 * assert.deepEqual(options, { executor: "inline" });
 * assert.deepEqual(server.auth, [["app", "pw"]]);
 * assert.equal(server.port, 0);
 * ```
 */
export function serveOptions(
  flags: Flags,
  positionals: string[],
  env: Record<string, string | undefined>,
): { module: URL; options: ModuleOptions; server: ServerOptions } {
  expect(positionals, 1, 1, "one MODULE");
  const executor = stringFlag(flags, "executor");
  if (executor !== undefined && executor !== "pool" && executor !== "inline") {
    throw new UsageError(`--executor takes pool or inline, not '${executor}'`);
  }
  const auth = flags.auth as string[] | undefined ??
    env.MPRPC_SERVE_AUTH?.split(",").filter(Boolean);
  const hostname = stringFlag(flags, "hostname");
  if (hostname !== undefined) refuseDefaultCredentials(hostname, auth, "MPRPC_SERVE_AUTH");
  const server: ServerOptions = {
    hostname,
    port: numberFlag("port", stringFlag(flags, "port")),
    auth: auth?.map(credential),
    timeout: numberFlag("timeout", stringFlag(flags, "timeout")),
    debug: flags.debug === true || undefined,
    compression: compressionFlag(stringFlag(flags, "compression")),
    workers: numberFlag("workers", stringFlag(flags, "workers"), 1),
    accessLog: flags["access-log"] === true || undefined,
    metricsPort: numberFlag("metrics-port", stringFlag(flags, "metrics-port")),
    tls: tlsServerOptions(
      ...(["tls-cert", "tls-key", "tls-ca"].map((name) => stringFlag(flags, name))),
    ),
    broker: membership(flags, env),
  };
  // Options left undefined are left out: they mean the server's defaults.
  for (const [key, value] of Object.entries(server)) {
    if (value === undefined) delete server[key as keyof ServerOptions];
  }
  return {
    module: moduleUrl(positionals[0]),
    options: executor === undefined ? {} : { executor },
    server,
  };
}

// A module path (relative to the working directory) or URL.
function moduleUrl(text: string): URL {
  return /^[a-z][a-z0-9+.-]+:/i.test(text) ? new URL(text) : pathToFileURL(resolve(text));
}

function membership(
  flags: Flags,
  env: Record<string, string | undefined>,
): ServerOptions["broker"] {
  const urls = flags.broker as string[] | undefined;
  const advertise = stringFlag(flags, "advertise");
  if (urls === undefined) {
    if (advertise !== undefined) throw new UsageError("--advertise needs --broker");
    return undefined;
  }
  const secret = stringFlag(flags, "broker-secret") ?? env.MPRPC_BROKER_SECRET;
  if (!secret) {
    throw new UsageError("--broker needs the secret: --broker-secret or MPRPC_BROKER_SECRET");
  }
  return { url: urls, secret, ...advertise !== undefined && { advertise } };
}

/** `mprpc serve`. */
export const serve: Command = {
  usage: `usage: mprpc serve MODULE [--hostname HOST] [--port PORT] [--auth USER:PASS]...
                   [--executor pool|inline] [--workers N] [--timeout S] [--debug]
                   [--compression NAME] [--access-log] [--tls-cert FILE --tls-key FILE
                   [--tls-ca FILE]] [--broker URL]... [--broker-secret SECRET] [--advertise URL]
                   [--metrics-port PORT]
Serves every exported function of MODULE (a path or URL; async generators stream), with the
introspection functions (system.listMethods …: mprpc list and describe work), until SIGINT or
SIGTERM. It prints \`listening on HOST:PORT\` once bound.
  --hostname HOST     interface to listen on; default 127.0.0.1
  --port PORT         port to listen on, 0 for any; default 5000
  --auth USER:PASS    credentials clients may present, repeatable (MPRPC_SERVE_AUTH=
                      user:pass,user2:pass2; default admin:admin, refused on a hostname other
                      than a loopback one)
  --executor NAME     pool: calls run in worker threads (default); inline: on the event loop
  --workers N         worker threads of the pool; default one per core
  --timeout S         seconds an idle connection stays open; default 180, 0 for ever
  --debug             JSON on the wire instead of MessagePack, stack traces in errors
  --compression NAME  zlib, bz2 or lzma; clients must use the same
  --access-log        log each connection and call
  --tls-cert FILE     PEM certificate (chain): serve TLS only, for tls:// clients (with --tls-key)
  --tls-key FILE      its PEM private key
  --tls-ca FILE       PEM CA that clients' certificates must be signed by (mutual TLS)
  --broker URL        a broker to join (tcp://HOST:PORT), repeatable
  --broker-secret S   the brokers' secret (MPRPC_BROKER_SECRET; give it by environment: other
                      users of the machine can read a process's flags)
  --advertise URL     where clients reach this server, tcp://HOST:PORT, when it is not where it
                      listens (0.0.0.0, NAT); default the listening address
  --metrics-port PORT serve Prometheus metrics over HTTP at http://HOST:PORT/metrics, 0 for any
                      port; default: none`,
  flags: {
    hostname: "string",
    port: "string",
    auth: "multiple",
    executor: "string",
    workers: "string",
    timeout: "string",
    debug: "boolean",
    compression: "string",
    "access-log": "boolean",
    "tls-cert": "string",
    "tls-key": "string",
    "tls-ca": "string",
    broker: "multiple",
    "broker-secret": "string",
    advertise: "string",
    "metrics-port": "string",
  },
  async run(flags, positionals) {
    const { module, options, server: serverOptions } = serveOptions(
      flags,
      positionals,
      process.env,
    );
    let server: Server;
    try {
      server = new Server(serverOptions);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    server.registerIntrospectionFunctions();
    server.registerModule(module, options);
    return await listenAndServe(server);
  },
};
