/**
 * The broker: servers join it, clients ask it which server to use (MPRPC 0.1's `AUTH` → `50`
 * exchange), and it answers with the least loaded of two members drawn at random. It is never on
 * the call path. See docs/extensions.md, "Broker".
 *
 * @module
 */
import { formatAddress, type HostPort, parseAddress } from "../protocol/address.ts";
import { RequestError, RestrictAccessError } from "../protocol/errors.ts";
import { Code, type Compression, type Message } from "../protocol/messages.ts";
import {
  credentialTagger,
  JOIN,
  type Joined,
  MEMBER_USER,
  readLoad,
  REPORT,
} from "../protocol/membership.ts";
import { callContext } from "../call/call_context.ts";
import {
  checkCredentials,
  type Credential,
  refuseDefaultCredentials,
} from "../server/credentials.ts";
import {
  MORE_METRICS,
  REDIRECT,
  Server,
  type ServerOptions,
  type TlsServerOptions,
} from "../server/server.ts";
import type { Exposition } from "../metrics/exposition.ts";
import type { Redirect } from "../server/session.ts";
import { consoleLogger, type Logger } from "../util/logger.ts";
import { checkOptions, optionNames } from "../util/options.ts";
import { type Member, type MemberInfo, Members } from "./members.ts";
import { pickOfTwo } from "./pick.ts";

export type { MemberInfo };

/** Options of {@linkcode Broker}. */
export interface BrokerOptions {
  /** Interface to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** Port to listen on; 0 lets the OS choose (see {@linkcode Broker.addr}). @default {7000} */
  port?: number;
  /**
   * The `[username, password]` pairs clients may present, as for `Server`; a client is sent only
   * to a member that accepts its pair too. The default is refused (a `TypeError`) on a `hostname`
   * other than a loopback one: there `auth` must be given. @default {[["admin", "admin"]]}
   */
  auth?: readonly Credential[];
  /**
   * The most connections served at once (clients asking for a server, members, `direct`
   * sessions), as for `Server`: past it a connection gets 503 and is closed. @default {10000}
   */
  maxConnections?: number;
  /** What servers present to join (required, not empty). */
  secret: string;
  /** Seconds between a member's load reports; a member silent for three is dropped. @default {1} */
  reportInterval?: number;
  /** JSON instead of MessagePack on the wire; must match clients and members. @default {false} */
  debug?: boolean;
  /** Compression; must match clients and members. @default {null} */
  compression?: Compression | null;
  /** Where the broker reports joins, drops, picks and refusals. Default: the console. */
  logger?: Logger;
  /**
   * Listen with TLS only (PEM certificate and key; `ca` for client certificates), as `Server`'s
   * `tls`: clients then use `broker+tls://` addresses, and members `tls://` broker URLs.
   */
  tls?: TlsServerOptions;
  /**
   * Also serve {@linkcode Broker.metrics} over HTTP at `http://hostname:metricsPort/metrics`, as
   * `Server`'s `metricsPort`; 0 lets the OS choose (see {@linkcode Broker.metricsAddr}).
   *
   * @default {undefined} (no HTTP listener)
   */
  metricsPort?: number;
}

const BROKER_OPTIONS = optionNames<BrokerOptions>({
  hostname: true,
  port: true,
  auth: true,
  maxConnections: true,
  secret: true,
  reportInterval: true,
  debug: true,
  compression: true,
  logger: true,
  tls: true,
  metricsPort: true,
});

// The most credential pairs one member may announce: with MAX_MEMBERS, a bound on what members
// can make the broker hold.
const MAX_TAGS = 64;
const TAG = /^[0-9a-f]{64}$/;

// A member's load as the broker ranks it: its report, plus the clients sent to it since.
function estimatedLoad(member: Member): number {
  const { connections, calls, queued } = member.load;
  return connections + calls + queued + member.sent;
}

/**
 * A broker. Servers join it with `new Server({ broker: { url, secret } })`; clients reach a
 * server through it with `AsyncRPC.connect("broker://user:pass@host:port")`. A client that
 * offers the `direct` extension (any mprpc client given a `tcp://` address) is served by the
 * broker itself: `system.*` and `broker.members()`.
 *
 * @example A broker, a member, and a client sent to it
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncRPC, Broker, Server } from "mprpc";
 *
 * await using broker = new Broker({ port: 0, secret: "join-secret", logger: silent() });
 * await broker.listen();
 * const url = `tcp://127.0.0.1:${broker.addr.port}`;
 * await using server = new Server({ port: 0, broker: { url, secret: "join-secret" }, logger: silent() });
 * server.registerFunction(function add(a: number, b: number) {
 *   return a + b;
 * });
 * await server.listen();
 * await server.joined();
 *
 * await using rpc = await AsyncRPC.connect(`broker://admin:admin@127.0.0.1:${broker.addr.port}`);
 * assert.equal(await rpc.add(1, 2), 3);
 * assert.equal(rpc.remoteAddress, `127.0.0.1:${server.addr.port}`);
 *
 * function silent() {
 *   return { info() {}, warn() {}, error() {} };
 * }
 * ```
 */
export class Broker implements AsyncDisposable {
  readonly #server: Server;
  readonly #members: Members;
  readonly #auth: readonly Credential[];
  readonly #interval: number;
  readonly #logger: Logger;
  readonly #tag: ReturnType<typeof credentialTagger>;
  // How clients' requests for a server ended, for the metrics.
  readonly #picks = { sent: 0, refused: 0, no_server: 0 };

  /** Creates a broker; nothing listens until {@linkcode Broker.listen}. */
  constructor(options: BrokerOptions) {
    checkOptions("BrokerOptions", options, BROKER_OPTIONS);
    const { secret } = options ?? {};
    if (typeof secret !== "string" || secret === "") {
      throw new TypeError("BrokerOptions.secret must be a non-empty string");
    }
    refuseDefaultCredentials("BrokerOptions", options.hostname ?? "127.0.0.1", options.auth);
    this.#auth = options.auth ?? [["admin", "admin"]];
    if (this.#auth.some(([user]) => user === MEMBER_USER)) {
      throw new TypeError(`'${MEMBER_USER}' is the user members join as; clients cannot use it`);
    }
    this.#interval = options.reportInterval ?? 1;
    if (!(this.#interval > 0 && this.#interval <= 3600)) {
      throw new TypeError("reportInterval must be a number of seconds above 0, at most 3600");
    }
    this.#logger = options.logger ?? consoleLogger;
    this.#members = new Members(this.#interval * 1000, this.#logger);
    this.#tag = credentialTagger(secret);
    const serverOptions: ServerOptions & {
      [REDIRECT]: Redirect;
      [MORE_METRICS]: (out: Exposition) => void;
    } = {
      hostname: options.hostname,
      port: options.port ?? 7000,
      auth: [...this.#auth, [MEMBER_USER, secret]],
      debug: options.debug,
      compression: options.compression,
      logger: this.#logger,
      maxConnections: options.maxConnections,
      tls: options.tls,
      metricsPort: options.metricsPort,
      [REDIRECT]: (username, password, peer, delay) =>
        this.#answer(username, password, peer, delay),
      [MORE_METRICS]: (out) => this.#writeMetrics(out),
    };
    this.#server = new Server(serverOptions);
    this.#register();
  }

  /** The bound address; throws before {@linkcode Broker.listen}. */
  get addr(): { hostname: string; port: number } {
    return this.#server.addr;
  }

  /** The members and their last reported load, as `broker.members()` returns them. */
  get members(): MemberInfo[] {
    return this.#members.list();
  }

  /** The HTTP listener's bound address (`metricsPort`), or `undefined` without one. */
  get metricsAddr(): { hostname: string; port: number } | undefined {
    return this.#server.metricsAddr;
  }

  /**
   * The broker's metrics in the Prometheus text format: its own server's (connections, calls,
   * bytes; see `Server.metrics`), then its members (`mprpc_broker_members`), each member's last
   * reported load labelled by its address (`member="tcp://host:port"`, at most 1024 members),
   * and how clients' requests for a server ended (`mprpc_broker_picks_total{result}`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Broker } from "mprpc";
   *
   * await using broker = new Broker({ port: 0, secret: "join-secret" });
   * await broker.listen();
   * const lines = broker.metrics().split("\n");
   * assert.ok(lines.includes("mprpc_broker_members 0"));
   * assert.ok(lines.includes('mprpc_broker_picks_total{result="sent"} 0'));
   * ```
   */
  metrics(): string {
    return this.#server.metrics();
  }

  /** Binds the port; with `port: 0`, {@linkcode Broker.addr} tells the port chosen. */
  listen(): Promise<void> {
    return this.#server.listen();
  }

  /** Serves until SIGINT or SIGTERM, then closes. */
  runForever(): Promise<void> {
    return this.#server.runForever();
  }

  /** Stops accepting, ends every membership (members re-join elsewhere) and closes. */
  async close(): Promise<void> {
    this.#members.close();
    await this.#server.close();
  }

  /** Closes the broker: `await using broker = new Broker(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // The 0.1 exchange: a client's AUTH gets a member's URL with its own credentials, or a refusal.
  // `delay`: how long the login waited for its turn (failed logins from its address).
  async #answer(
    username: string | null,
    password: string | null,
    peer: string,
    delay: number,
  ): Promise<Message> {
    if (!checkCredentials(this.#auth, username, password)) {
      this.#logger.warn("login refused", { peer, user: username, delay });
      this.#picks.refused++;
      return { CODE: Code.BROKER_REFUSED, MESSAGE: "the broker refused the credentials" };
    }
    if (this.#members.size === 0) {
      this.#logger.warn("no member to send a client to", { peer, user: username });
      this.#picks.no_server++;
      return { CODE: Code.BROKER_NO_SERVER, MESSAGE: "no server has joined the broker" };
    }
    const member = pickOfTwo(
      this.#members.accepting(await this.#tag(username, password)),
      estimatedLoad,
    );
    if (!member) {
      this.#logger.warn("no member accepts the credentials", { peer, user: username });
      this.#picks.refused++;
      return { CODE: Code.BROKER_REFUSED, MESSAGE: "no server accepts these credentials" };
    }
    member.sent++;
    this.#picks.sent++;
    this.#logger.info("client sent", { peer, user: username, member: member.url });
    return { CODE: Code.BROKER_URL, URL: formatAddress({ ...member.address, username, password }) };
  }

  // The broker's families, after its server's: members are bounded (MAX_MEMBERS), and so are
  // their labels.
  #writeMetrics(out: Exposition): void {
    const members = this.#members.list();
    out.single("mprpc_broker_members", "gauge", "Servers that joined the broker.", members.length);
    const perMember = [
      ["connections", "connections", "Connections the member last reported."],
      ["calls", "calls", "Calls in flight the member last reported."],
      ["queued_calls", "queued", "Calls waiting for a pool worker the member last reported."],
    ] as const;
    for (const [suffix, field, help] of perMember) {
      const name = `mprpc_broker_member_${suffix}`;
      out.family(name, "gauge", help);
      for (const { url, load } of members) out.sample(name, load[field], { member: url });
    }
    const age = "mprpc_broker_member_report_age_seconds";
    out.family(age, "gauge", "Seconds since the member's last load report.");
    for (const { url, reportedAgo } of members) out.sample(age, reportedAgo, { member: url });
    const picks = "mprpc_broker_picks_total";
    out.family(picks, "counter", "Clients' requests for a server, by how they ended.");
    for (const [result, count] of Object.entries(this.#picks)) out.sample(picks, count, { result });
  }

  #register(): void {
    this.#server.registerIntrospectionFunctions();
    const members = this.#members;
    const interval = this.#interval;
    this.#server.registerFunction(function members_() {
      return members.list();
    }, { name: "broker.members", help: "The members, with their last reported load." });
    // The caller and arguments are checked when called, so that a refusal fails the call itself;
    // the member joins when its stream starts, so that a call stopped before then leaves nothing.
    this.#server.registerFunction(function join(url: unknown, tags: unknown) {
      const { user, peer, signal } = callContext();
      if (user !== MEMBER_USER) throw new RestrictAccessError("only members may join");
      return membership(members, [readMemberUrl(url), readTags(tags), peer], interval, signal);
    }, { name: JOIN, help: "Joins a server; the stream lasts as long as the membership." });
    this.#server.registerFunction(function report(id: unknown, load: unknown) {
      const { user, peer } = callContext();
      if (user !== MEMBER_USER) throw new RestrictAccessError("only members report");
      const figures = readLoad(load);
      if (!figures) throw new RequestError(`not a load report: ${JSON.stringify(load)}`);
      if (!members.report(String(id), figures, peer)) {
        throw new RequestError(`no member ${id}: join again`);
      }
      return null;
    }, { name: REPORT, help: "A member's load report." });
  }
}

// The stream of a membership: its one item, then open until the member is dropped or leaves.
async function* membership(
  members: Members,
  [url, tags, peer]: Parameters<Members["join"]>,
  interval: number,
  signal: AbortSignal,
): AsyncGenerator<Joined> {
  const member = members.join(url, tags, peer);
  try {
    yield { id: member.id, interval };
    const left = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    await Promise.race([member.ended, left]);
  } finally {
    members.remove(member.id, "its membership connection closed");
  }
}

function readMemberUrl(url: unknown): HostPort & { tls?: boolean } {
  try {
    const { hostname, port, username, password, tls } = parseAddress(String(url));
    if (username === null && password === null) return { hostname, port, ...tls && { tls } };
  } catch {
    // refused below
  }
  throw new RequestError(
    `a member's URL is tcp://host:port or tls://…, not ${JSON.stringify(url)}`,
  );
}

function readTags(tags: unknown): Set<string> {
  if (
    !Array.isArray(tags) || tags.length > MAX_TAGS ||
    !tags.every((tag) => typeof tag === "string" && TAG.test(tag))
  ) {
    throw new RequestError(`a member's credentials are at most ${MAX_TAGS} hex HMAC-SHA256 tags`);
  }
  return new Set(tags);
}
