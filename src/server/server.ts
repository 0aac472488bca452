/**
 * The MPRPC server: register functions, then listen.
 *
 * @module
 */
import { type Credential, refuseDefaultCredentials } from "./credentials.ts";
import { ConnectionLimit } from "./connection_limit.ts";
import { LoginThrottle } from "./login_throttle.ts";
import { InflightBytes } from "./inflight_bytes.ts";
import { Codec } from "../wire/codec.ts";
import { DEFAULT_MAX_MESSAGE_SIZE } from "../wire/frame_splitter.ts";
import { loadModules, type ModuleOptions, type RegisteredModule } from "./modules.ts";
import { listen } from "../platform/transport.deno.ts";
import { hardwareConcurrency, onShutdownSignal } from "../platform/runtime.deno.ts";
import type { Listener, TlsServerOptions } from "../platform/transport.ts";
import type { Compression } from "../protocol/messages.ts";
import type { MemberLoad } from "../protocol/membership.ts";
import { type Handler, type InstanceOptions, type MethodOptions, Registry } from "./registry.ts";
import { ResultStore } from "./result_store.ts";
import { type Redirect, type ServerContext, Session, type SessionSettings } from "./session.ts";
import { BrokerLink, type BrokerMembership } from "./broker_link.ts";
import type { WorkerPool } from "../pool/worker_pool.ts";
import { consoleLogger, type Logger } from "../util/logger.ts";
import { checkOptions, optionNames } from "../util/options.ts";
import { timer } from "../util/timers.ts";
import { GETRESULT, GETRESULT_PARAMS, MethodDispatcher } from "./dispatcher.ts";
import type { Middleware, MiddlewareContext } from "./middleware.ts";
import { CallTracer } from "./tracing.ts";
import { formatSignature } from "./signature.ts";
import { ServerMetrics } from "./server_metrics.ts";
import { turnNow } from "../metrics/turn_clock.ts";
import { Exposition, EXPOSITION_CONTENT_TYPE } from "../metrics/exposition.ts";
import { serveText, type TextListener } from "../platform/metrics_http.ts";

export type {
  BrokerMembership,
  Credential,
  Handler,
  InstanceOptions,
  MethodOptions,
  Middleware,
  MiddlewareContext,
  ModuleOptions,
  TlsServerOptions,
};

const SERVER_OPTIONS = optionNames<ServerOptions>({
  hostname: true,
  port: true,
  auth: true,
  timeout: true,
  debug: true,
  compression: true,
  version: true,
  description: true,
  maxMessageSize: true,
  handshakeTimeout: true,
  gracePeriod: true,
  resultTtl: true,
  maxStoredResults: true,
  maxStoredResultBytes: true,
  workers: true,
  workerMemoryLimit: true,
  logger: true,
  accessLog: true,
  maxCallsPerConnection: true,
  maxConnections: true,
  maxInflightBytes: true,
  broker: true,
  reusePort: true,
  tls: true,
  tracing: true,
  metricsPort: true,
});

/**
 * Makes a `Server` the front of a broker: set to a {@linkcode Redirect} in its options, it
 * answers clients' `AUTH` with a server to use. Internal to mprpc (src/broker), not exported.
 */
export const REDIRECT: unique symbol = Symbol("mprpc.redirect");

/**
 * Adds families to a server's metrics: set to a function in its options, it writes them after
 * the server's own. Internal to mprpc (the broker's figures), not exported.
 */
export const MORE_METRICS: unique symbol = Symbol("mprpc.moreMetrics");

// The `metricsPort` option, checked: a TCP port, 0 for one the OS chooses.
function checkPort(name: string, port: unknown): number {
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new TypeError(`${name} must be an integer from 0 to 65535, not ${String(port)}`);
  }
  return port as number;
}

const TLS_OPTIONS = optionNames<TlsServerOptions>({ cert: true, key: true, ca: true });

// The `tls` option, checked: PEM text for the certificate and key (and the client CA).
function checkTls(tls: TlsServerOptions): TlsServerOptions {
  checkOptions("TlsServerOptions", tls, TLS_OPTIONS);
  for (const name of ["cert", "key", "ca"] as const) {
    const pem = tls[name];
    if (pem === undefined && name === "ca") continue;
    if (typeof pem !== "string" || !pem.includes("-----BEGIN")) {
      throw new TypeError(`tls.${name} must be PEM text ("-----BEGIN …"), not ${typeof pem}`);
    }
  }
  return { ...tls };
}

const METHOD_OPTIONS = optionNames<MethodOptions>({ name: true, help: true });
const INSTANCE_OPTIONS = optionNames<InstanceOptions>({ prefix: true });
const MODULE_OPTIONS = optionNames<ModuleOptions>({ executor: true, prefix: true });

/** Options of {@linkcode Server}; the defaults are pymprpc's. */
export interface ServerOptions {
  /** Interface to listen on. Default `"127.0.0.1"`. */
  hostname?: string;
  /** Port to listen on; 0 lets the OS choose (see {@linkcode Server.addr}). Default `5000`. */
  port?: number;
  /**
   * Accepted `[username, password]` pairs; `[]` accepts only empty credentials. Default
   * `[["admin", "admin"]]`, which is refused (a `TypeError`) on a `hostname` other than a
   * loopback one: there `auth` must be given. Failed logins are throttled per remote address.
   */
  auth?: readonly Credential[];
  /** Seconds without a write after which an idle connection gets 504 and is closed; 0 = never. Default `180`. */
  timeout?: number;
  /** JSON instead of MessagePack on the wire, and stack traces in errors (`FRAME`). Default `false`. */
  debug?: boolean;
  /** Compress every message. Default `null`. */
  compression?: Compression | null;
  /** The service version announced in the handshake. Default `null`. */
  version?: string | null;
  /** The service description announced in the handshake. Default `null`. */
  description?: string | null;
  /** The most bytes one incoming message may have (505 and close past it). Default 64 MiB. */
  maxMessageSize?: number;
  /** Seconds a new connection has to authenticate before it is closed. Default `10`. */
  handshakeTimeout?: number;
  /** Seconds {@linkcode Server.close} lets running calls finish. Default `10`. */
  gracePeriod?: number;
  /** Seconds an unclaimed `RETURN: false` outcome is kept for `system.getresult`. Default `600`. */
  resultTtl?: number;
  /**
   * The most `RETURN: false` outcomes kept at once, waiting for `system.getresult`; past it such
   * calls get 503 (and are not run). Default `1000`.
   */
  maxStoredResults?: number;
  /**
   * The most bytes all kept `RETURN: false` outcomes may hold together (each value or item
   * counted as its MessagePack encoding plus 16 bytes); one outcome may hold at most a quarter of
   * it. An outcome that does not fit is kept as a 405 error; a stream is stopped where it
   * outgrows its share, and replays its kept items, then the 405. Default 64 MiB.
   */
  maxStoredResultBytes?: number;
  /** Where the server reports: refused logins, bad input, pool trouble, internal errors. Default: the console. */
  logger?: Logger;
  /**
   * Also log each connection and each call (`peer`, `user`, `id`, `method`, `code`, `ms`) at
   * `info`, whatever the wire mode. Default `false`.
   */
  accessLog?: boolean;
  /**
   * The most calls one connection may have running at once. Calls past it wait for a turn, up
   * to twice as many; then the server stops reading that connection until a call finishes, so TCP
   * pushes back on its client, and other connections are unaffected. (A connection is also not
   * read while more than 1 MiB of its answers wait for it to read them.) Streams waiting for the
   * client's credit do not count as running, but a connection may hold at most three times this
   * many calls in all: past it, a new call gets 503. Default `1024`.
   */
  maxCallsPerConnection?: number;
  /**
   * The most connections served at once, logged in or not. A connection past it is sent the
   * connection-level 503 (`{"MPRPC": "0.1", "CODE": 503}`) and closed at once, without a
   * handshake; open connections are unaffected. Keep it below the process's open-file limit
   * (`ulimit -n`). What one connection can make the server hold is in README, "Limits".
   * `Infinity`: no limit.
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * The most bytes of call messages the server holds at once, over all its connections: calls
   * running, waiting for a turn or streaming, each counted by its payload's size (decompressed)
   * until it ends. A call that would pass it gets 503 at once and is not run; the calls already
   * held go on. Decoded, a message takes about 1 to 8 times its size (README, "Limits"). At
   * least `maxMessageSize`; `Infinity`: no limit.
   *
   * @default {4 * maxMessageSize} (256 MiB)
   */
  maxInflightBytes?: number;
  /**
   * Join these brokers, so that clients given `broker://` addresses are sent here: the server
   * reports its load to each, joins again whenever a membership ends, and leaves first thing
   * on {@linkcode Server.close}. Default: no broker.
   */
  broker?: BrokerMembership;
  /**
   * Let several processes listen on the same port, the kernel spreading new connections among
   * them (`SO_REUSEPORT`, Linux). On Deno it needs `--unstable-net`; on Node, version 22.12 or
   * later. Default `false`.
   */
  reusePort?: boolean;
  /**
   * Serve TLS only, with this certificate and key (PEM text); with `ca` set too, clients must
   * present a certificate signed by it, and `callContext().certificate` shows its subject. A
   * plaintext client gets no service (and costs no more than its failed handshake). Default: none.
   */
  tls?: TlsServerOptions;
  /**
   * A span per call through the OpenTelemetry API (`@opentelemetry/api`; a no-op until the
   * application registers an SDK): named after the method, a child of the caller's span when the
   * client sent its trace context (the `trace` extension: mprpc clients with `tracing` on), active
   * while the handler runs, and ended when the call is over (a stream with its last item), with
   * the status code sent. See README, "Tracing".
   *
   * @default {false}
   */
  tracing?: boolean;
  /**
   * Also serve {@linkcode Server.metrics} over HTTP at `http://hostname:metricsPort/metrics`, for
   * Prometheus to scrape (`hostname` is the server's); 0 lets the OS choose (see
   * {@linkcode Server.metricsAddr}). Plain HTTP without authentication: bind it where only the
   * scraper can reach it. Opened by {@linkcode Server.listen}, closed by {@linkcode Server.close}.
   *
   * @default {undefined} (no HTTP listener; `server.metrics()` still works)
   */
  metricsPort?: number;
  /** Worker threads in the pool that runs `registerModule` functions. Default: one per core. */
  workers?: number;
  /**
   * The most heap, in MB, one pool worker may use; a worker past it fails its call and is
   * replaced. Node only: Deno cannot limit a worker's heap (there a worker that runs out of
   * memory ends the process), and refuses the option. Default: no limit of its own.
   */
  workerMemoryLimit?: number;
}

/**
 * An MPRPC server.
 *
 * @example Serving two functions
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncRPC, Server } from "mprpc";
 *
 * await using server = new Server({ port: 0 });
 * server.registerIntrospectionFunctions();
 * server.registerFunction(function add(a: number, b: number) {
 *   return a + b;
 * }, { help: "Adds two numbers." });
 * server.registerFunction(async function* count(n: number) {
 *   for (let i = 0; i < n; i++) yield i;
 * });
 * await server.listen();
 *
 * await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
 * assert.deepEqual(await rpc.system.listMethods(), [
 *   "add", "count", "system.getresult", "system.lenConnections", "system.lenUndoneTasks",
 *   "system.listMethods", "system.methodHelp", "system.methodSignature",
 * ]);
 * assert.equal(await rpc.system.methodHelp("add"), "Adds two numbers.");
 * assert.equal(await rpc.add(2, 3), 5);
 * ```
 */
export class Server implements AsyncDisposable {
  readonly #settings: SessionSettings;
  readonly #hostname: string;
  readonly #port: number;
  readonly #gracePeriod: number;
  readonly #registry = new Registry();
  readonly #results: ResultStore;
  readonly #dispatcher: MethodDispatcher;
  readonly #tracer?: CallTracer;
  readonly #logger: Logger;
  readonly #stopped = new AbortController();
  readonly #sessions = new Set<Session>();
  readonly #modules: RegisteredModule[] = [];
  readonly #workers: number;
  readonly #workerMemoryLimit?: number;
  readonly #redirect?: Redirect;
  readonly #reusePort: boolean;
  readonly #tls?: TlsServerOptions;
  readonly #link?: BrokerLink;
  readonly #limit: ConnectionLimit;
  readonly #throttle: LoginThrottle;
  readonly #inflightBytes: InflightBytes;
  readonly #metrics: ServerMetrics;
  readonly #metricsPort?: number;
  readonly #moreMetrics?: (out: Exposition) => void;
  #metricsListener?: TextListener;
  #pool?: WorkerPool;
  #listener?: Listener;
  #listening?: Promise<void>;
  #codec?: Codec;
  #tasks = 0;
  #tasksIdle?: () => void;
  #serving?: Promise<void>;
  #closing?: Promise<void>;

  /** Creates a server; nothing listens until {@linkcode Server.listen} or {@linkcode Server.serve}. */
  constructor(options: ServerOptions = {}) {
    checkOptions("ServerOptions", options, SERVER_OPTIONS);
    refuseDefaultCredentials("ServerOptions", options.hostname ?? "127.0.0.1", options.auth);
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#port = options.port ?? 5000;
    this.#gracePeriod = options.gracePeriod ?? 10;
    this.#workers = options.workers ?? hardwareConcurrency();
    this.#workerMemoryLimit = options.workerMemoryLimit;
    this.#redirect = (options as { [REDIRECT]?: Redirect })[REDIRECT];
    this.#moreMetrics = (options as { [MORE_METRICS]?: (out: Exposition) => void })[MORE_METRICS];
    if (options.metricsPort !== undefined) {
      this.#metricsPort = checkPort("metricsPort", options.metricsPort);
    }
    const registry = this.#registry;
    this.#metrics = new ServerMetrics((method) =>
      method === GETRESULT || registry.get(method) !== undefined
    );
    this.#reusePort = options.reusePort ?? false;
    this.#tls = options.tls === undefined ? undefined : checkTls(options.tls);
    this.#logger = options.logger ?? consoleLogger;
    this.#limit = new ConnectionLimit(options.maxConnections, this.#logger);
    this.#throttle = new LoginThrottle({ logger: this.#logger });
    this.#results = new ResultStore({
      ttl: (options.resultTtl ?? 600) * 1000,
      count: options.maxStoredResults ?? 1000,
      bytes: options.maxStoredResultBytes ?? 64 * 1024 * 1024,
    });
    this.#dispatcher = new MethodDispatcher(this.#registry, this.#results);
    if (options.tracing) this.#tracer = new CallTracer(this.#logger);
    this.#settings = {
      auth: options.auth ?? [["admin", "admin"]],
      timeout: options.timeout ?? 180,
      debug: options.debug ?? false,
      compression: options.compression ?? null,
      version: options.version ?? null,
      description: options.description ?? null,
      maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      handshakeTimeout: options.handshakeTimeout ?? 10,
      accessLog: options.accessLog ?? false,
      maxCallsPerConnection: options.maxCallsPerConnection ?? 1024,
    };
    const { maxMessageSize } = this.#settings;
    this.#inflightBytes = new InflightBytes(
      options.maxInflightBytes ?? 4 * maxMessageSize,
      maxMessageSize,
    );
    if (options.broker !== undefined) {
      this.#link = new BrokerLink(options.broker, this.#hostname, {
        auth: this.#settings.auth,
        load: () => this.#load(),
        logger: this.#logger,
        debug: this.#settings.debug,
        compression: this.#settings.compression,
        tls: this.#tls !== undefined,
      });
    }
  }

  /**
   * Registers `fn` (plain, async, or async generator) under `options.name` or its own name,
   * and returns it. An async generator's items stream to the client.
   */
  registerFunction<F extends Handler>(fn: F, options?: MethodOptions): F {
    checkOptions("MethodOptions", options, METHOD_OPTIONS);
    this.#registry.add(fn, options);
    return fn;
  }

  /**
   * Registers every exported function of the module at `url` (plain, async, or async
   * generator), named after its export. By default calls run in the worker pool, so CPU-heavy
   * work never blocks the server; `{ executor: "inline" }` runs them on the event loop. The
   * module is loaded by {@linkcode Server.listen}; `system.methodHelp` shows each export's JSDoc.
   *
   * @example Not run as a doc test: it needs module files beside the caller
   * ```ts ignore
   * server.registerModule(new URL("./handlers.ts", import.meta.url));
   * server.registerModule(new URL("./fast.ts", import.meta.url), { executor: "inline" });
   * ```
   */
  registerModule(url: URL | string, options: ModuleOptions = {}): void {
    checkOptions("ModuleOptions", options, MODULE_OPTIONS);
    if (options.executor !== undefined && !["pool", "inline"].includes(options.executor)) {
      throw new TypeError(
        `executor must be "pool" or "inline", not ${JSON.stringify(options.executor)}`,
      );
    }
    if (this.#listening) throw new Error("register modules before listen()");
    this.#modules.push({ url: new URL(url).href, options });
  }

  /**
   * Adds `middleware` around every call from now on (system methods and `system.getresult`
   * included), inside the middleware added before it: the first added runs first. See
   * {@linkcode Middleware} for what it can do; a call that takes no middleware stays on the
   * fast path; the first `use` costs each call an async step and a context frame (1.7 µs of
   * server CPU for one pass-through middleware, measured: README, "Middleware").
   *
   * @example Refusing, transforming and timing calls
   * ```ts
   * import assert from "node:assert/strict";
   * import { AsyncRPC, RestrictAccessError, Server } from "mprpc";
   *
   * await using server = new Server({ port: 0, auth: [["admin", "admin"], ["guest", "guest"]] });
   * server.registerFunction(function add(a: number, b: number) {
   *   return a + b;
   * });
   * const timings: string[] = [];
   * server.use(async (ctx, next) => {
   *   const started = performance.now();
   *   try {
   *     return await next();
   *   } finally {
   *     timings.push(`${ctx.method} ${(performance.now() - started).toFixed(1)} ms`);
   *   }
   * });
   * server.use((ctx, next) => {
   *   if (ctx.user !== "admin") throw new RestrictAccessError(`${ctx.user} may not call ${ctx.method}`);
   *   return next();
   * });
   * server.use(async (ctx, next) => (await next() as number) * 10);
   * await server.listen();
   *
   * const port = server.addr.port;
   * await using admin = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${port}`);
   * assert.equal(await admin.add(1, 2), 30);
   * await using guest = await AsyncRPC.connect(`tcp://guest:guest@127.0.0.1:${port}`);
   * await assert.rejects(guest.add(1, 2), (err: RestrictAccessError) => err.code === 403);
   * assert.equal(timings.length, 2);
   * ```
   */
  use(middleware: Middleware): this {
    this.#dispatcher.use(middleware);
    return this;
  }

  /**
   * Registers the methods of `instance`: the own functions of a plain object (nested plain
   * objects give dotted names), or the public methods of a class instance's class chain (see
   * {@linkcode InstanceOptions}).
   *
   * @example A plain object, with a nested one
   * ```ts
   * import assert from "node:assert/strict";
   * import { AsyncRPC, Server } from "mprpc";
   *
   * await using server = new Server({ port: 0 });
   * server.registerInstance({
   *   add: (a: number, b: number) => a + b,
   *   text: { upper: (s: string) => s.toUpperCase() },
   * }, { prefix: "api" });
   * await server.listen();
   * await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
   * assert.equal(await rpc.api.add(1, 2), 3);
   * assert.equal(await rpc.call("api.text.upper", ["hi"]), "HI");
   * ```
   */
  registerInstance(instance: object, options?: InstanceOptions): void {
    checkOptions("InstanceOptions", options, INSTANCE_OPTIONS);
    this.#registry.addInstance(instance, options);
  }

  /** Registers `system.listMethods`, `methodSignature`, `methodHelp`, `lenConnections`, `lenUndoneTasks`. */
  registerIntrospectionFunctions(): void {
    const registry = this.#registry;
    const system = (fn: Handler, help: string) =>
      registry.add(fn, { name: `system.${fn.name}`, help }, true);
    system(
      function listMethods() {
        return [...new Set([...registry.names(), GETRESULT])].sort();
      },
      "The sorted names of every callable method.",
    );
    system(
      function methodSignature(name: string) {
        return name === GETRESULT
          ? formatSignature(GETRESULT_PARAMS)
          : registry.signature(String(name));
      },
      'The parameter list of a method, e.g. "(a, b)"; "" if unknown.',
    );
    system(
      function methodHelp(name: string) {
        return registry.get(String(name))?.help ?? "";
      },
      'The documentation of a method; "" if unknown.',
    );
    const sessions = this.#sessions;
    system(function lenConnections() {
      return sessions.size;
    }, "The number of open connections.");
    const tasks = () => this.#tasks;
    system(function lenUndoneTasks() {
      return tasks();
    }, "The number of calls started and not yet finished.");
  }

  /** The bound address; throws before {@linkcode Server.listen}. */
  get addr(): { hostname: string; port: number } {
    if (!this.#listener) throw new Error("the server is not listening yet");
    return this.#listener.addr;
  }

  /**
   * The HTTP listener's bound address (`metricsPort`), or `undefined` without one; throws before
   * {@linkcode Server.listen}.
   */
  get metricsAddr(): { hostname: string; port: number } | undefined {
    if (this.#metricsPort === undefined) return undefined;
    if (!this.#metricsListener) throw new Error("the server is not listening yet");
    return this.#metricsListener.addr;
  }

  /**
   * The server's metrics in the Prometheus text format (0.0.4): calls by method and last status
   * code (`mprpc_calls_total`), their durations (`mprpc_call_duration_seconds`), connections,
   * calls in flight, the pool's queue and busy workers, and the bytes read and written. A method
   * the server does not have is counted as `method="(unknown)"`. See README, "Metrics".
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { AsyncRPC, Server } from "mprpc";
   *
   * await using server = new Server({ port: 0 });
   * server.registerFunction(function add(a: number, b: number) {
   *   return a + b;
   * });
   * await server.listen();
   * await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
   * await rpc.add(1, 2);
   *
   * const lines = server.metrics().split("\n");
   * assert.ok(lines.includes('mprpc_calls_total{method="add",code="200"} 1'));
   * assert.ok(lines.includes("mprpc_connections 1"));
   * ```
   */
  metrics(): string {
    const out = new Exposition();
    this.#metrics.write(out, { ...this.#load(), poolBusy: this.#pool?.running ?? 0 });
    this.#moreMetrics?.(out);
    return out.text();
  }
  // The load the server reports to its brokers, and its metrics' gauges.
  #load(): MemberLoad {
    return {
      connections: this.#sessions.size,
      calls: this.#tasks,
      queued: this.#pool?.queued ?? 0,
    };
  }

  /**
   * Loads registered modules (starting the worker pool if any needs it), then binds the port.
   * With `port: 0`, {@linkcode Server.addr} tells the port chosen. Listening already, or about
   * to, it does nothing more: a second call joins the first.
   */
  listen(): Promise<void> {
    if (this.#closing) return Promise.reject(new Error("the server is closed"));
    this.#listening ??= this.#listen().catch((err) => {
      this.#listening = undefined; // failed: a later call may try again
      throw err;
    });
    return this.#listening;
  }

  async #listen(): Promise<void> {
    this.#codec = await Codec.create(this.#settings);
    this.#pool = await loadModules(
      this.#registry,
      this.#modules,
      this.#workers,
      this.#workerMemoryLimit,
      this.#logger,
    );
    const address = { hostname: this.#hostname, port: this.#port };
    try {
      this.#listener = await listen({ ...address, reusePort: this.#reusePort, tls: this.#tls });
    } catch (cause) {
      await this.#pool?.close();
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`cannot listen on ${address.hostname}:${address.port}: ${reason}`, { cause });
    }
    if (this.#metricsPort !== undefined) {
      try {
        this.#metricsListener = await this.#serveMetrics(this.#metricsPort);
      } catch (err) {
        this.#listener.close();
        this.#listener = undefined;
        await this.#pool?.close();
        throw err;
      }
    }
    this.#serving = this.#accept(this.#listener, this.#codec);
    this.#link?.start(this.#listener.addr);
  }

  async #serveMetrics(port: number): Promise<TextListener> {
    const address = { hostname: this.#hostname, port };
    try {
      return await serveText(address, {
        path: "/metrics",
        contentType: EXPOSITION_CONTENT_TYPE,
        render: () => this.metrics(),
        onError: (err) => this.#logger.error("metrics listener failed", { error: err.message }),
      });
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`cannot serve metrics on ${address.hostname}:${port}: ${reason}`, { cause });
    }
  }

  /**
   * Listens if needed, then resolves to `true` once the server has joined every broker of its
   * `broker` option (at once without one): from then on, those brokers send it clients. A broker
   * that is down delays it until it is back; if the server closes first, it resolves to `false`.
   */
  async joined(): Promise<boolean> {
    await this.listen();
    return await this.#link?.joined() ?? true;
  }

  /** Listens if needed and serves; resolves once the server is closed. */
  async serve(): Promise<void> {
    await this.listen();
    await this.#serving;
    await this.#closing;
  }

  /** Serves until SIGINT or SIGTERM, then closes gracefully. */
  async runForever(): Promise<void> {
    const stop = onShutdownSignal(() => this.close());
    try {
      await this.serve();
    } finally {
      stop();
    }
  }

  /**
   * Stops accepting connections, lets running calls finish for up to `gracePeriod` seconds
   * (new calls, and calls still waiting for a turn, get 503), then closes every connection.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** Closes the server: `await using server = new Server(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(listener: Listener, codec: Codec): Promise<void> {
    const ctx: ServerContext = {
      settings: this.#settings,
      codec,
      dispatcher: this.#dispatcher,
      tracer: this.#tracer,
      results: this.#results,
      logger: this.#logger,
      stopped: this.#stopped.signal,
      taskStarted: () => void this.#tasks++,
      // A call starts when the run of JavaScript that read it began (see turn_clock.ts: one
      // clock reading for a whole batch of calls), so its duration includes its wait behind the
      // calls read before it, and ends when the run that ended it is over (ServerMetrics); the
      // access log's milliseconds are exact.
      now: this.#settings.accessLog ? () => performance.now() : turnNow,
      taskEnded: (call) => {
        this.#metrics.callEnded(call.method, call.finalCode, call.started);
        if (--this.#tasks === 0) this.#tasksIdle?.();
      },
      callRefused: (method, code) => this.#metrics.callRefused(method, code),
      wireBytes: this.#metrics.bytes,
      redirect: this.#redirect,
      throttle: this.#throttle,
      inflightBytes: this.#inflightBytes,
    };
    for await (const socket of listener) {
      if (!this.#limit.admits(this.#sessions.size)) {
        this.#limit.refuse(socket, codec);
        continue;
      }
      const session = new Session(socket, ctx);
      this.#sessions.add(session);
      this.#link?.changed();
      session.done.finally(() => {
        this.#sessions.delete(session);
        this.#link?.changed();
      });
    }
  }

  // Everything after the listener closes shares one deadline: running calls finish and queued
  // answers flush within the grace period, then whatever is left is cut off.
  async #shutdown(): Promise<void> {
    // A listen() under way finishes first, so that its listener is closed too.
    await this.#listening?.catch(() => {});
    // Brokers first, so that no new client is sent here while the running calls finish.
    await this.#link?.leave();
    this.#listener?.close();
    await this.#serving?.catch(() => {});
    await this.#limit.close();
    const sessions = [...this.#sessions];
    for (const session of sessions) session.drain();
    let grace: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      grace = timer(resolve, this.#gracePeriod * 1000);
    });
    const idle = this.#tasks === 0 ? Promise.resolve() : new Promise<void>((resolve) => {
      this.#tasksIdle = resolve;
    });
    const flushed = idle.then(() => Promise.all(sessions.map((session) => session.close())));
    await Promise.race([flushed, deadline]);
    clearTimeout(grace);
    this.#stopped.abort();
    for (const session of sessions) session.abort();
    await Promise.all(sessions.map((session) => session.done));
    await this.#pool?.close();
    await this.#metricsListener?.close();
    await this.#link?.close(); // a join still connecting to an unresponsive broker gives up
  }
}
