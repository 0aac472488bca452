/**
 * A server's membership in its brokers: it joins each one, reports its load at the interval the
 * broker asks for, joins again whenever the membership ends (the broker restarted, dropped it,
 * or the network failed), and leaves when the server closes.
 *
 * @module
 */
import { AsyncRPC } from "../client/async_rpc.ts";
import {
  formatAddress,
  parseAddress,
  parseTarget,
  type ServerAddress,
} from "../protocol/address.ts";
import type { Compression } from "../protocol/messages.ts";
import {
  credentialTagger,
  JOIN,
  type Joined,
  MEMBER_USER,
  type MemberLoad,
  REPORT,
} from "../protocol/membership.ts";
import { backoffDelay, sleep } from "../util/backoff.ts";
import type { Logger } from "../util/logger.ts";
import type { Credential } from "./credentials.ts";
import { deferred } from "../util/deferred.ts";

/** Where a server joins: the `broker` option of `Server`. */
export interface BrokerMembership {
  /** The broker's address, `tcp://host:port`, or several: the server joins every one. */
  url: string | readonly string[];
  /** The secret the brokers expect from members. */
  secret: string;
  /**
   * Where clients reach this server, `tcp://host:port`, when it is not the address it listens
   * on (a server listening on `0.0.0.0`, or behind NAT). Default: the listening address.
   */
  advertise?: string;
}

/** What a server's membership needs from the server. */
export interface LinkContext {
  /** The server's accepted credentials. */
  auth: readonly Credential[];
  /** The server's load now. */
  load(): MemberLoad;
  logger: Logger;
  debug: boolean;
  compression: Compression | null;
}

// Retrying a broker: from 100 ms up to 2 s between attempts, so a restarted broker has its
// members back within about two seconds.
const RETRY_MIN = 100;
const RETRY_MAX = 2000;

// Checks a `broker` option; throws a `TypeError` naming what is wrong.
function checkMembership(membership: BrokerMembership): void {
  const urls = typeof membership?.url === "string" ? [membership.url] : membership?.url;
  if (!Array.isArray(urls) || urls.length === 0) {
    throw new TypeError("broker.url must be a broker's tcp://host:port, or a list of them");
  }
  for (const url of urls) parseAddress(url);
  if (typeof membership.secret !== "string" || membership.secret === "") {
    throw new TypeError("broker.secret must be a non-empty string");
  }
  if (membership.advertise !== undefined) advertised(membership.advertise);
}

function advertised(url: string): ServerAddress {
  const target = parseTarget(url);
  if (target.kind !== "server" || target.address.username || target.address.password) {
    throw new TypeError(`broker.advertise must be tcp://host:port, not '${url}'`);
  }
  return target.address;
}

/** A server's memberships, one per broker. Owns their connections and retry timers. */
export class BrokerLink {
  readonly #membership: BrokerMembership;
  readonly #ctx: LinkContext;
  readonly #stop = new AbortController();
  readonly #joined = new Map<string, ReturnType<typeof deferred<void>>>();
  #loops: Promise<void>[] = [];

  /**
   * Prepares memberships for a server listening on `hostname`; nothing is sent until
   * {@linkcode BrokerLink.start}. Throws a `TypeError` for a bad option.
   */
  constructor(membership: BrokerMembership, hostname: string, ctx: LinkContext) {
    checkMembership(membership);
    if (membership.advertise === undefined && ["0.0.0.0", "::"].includes(hostname)) {
      throw new TypeError(
        `a server listening on ${hostname} must tell brokers where clients reach it: broker.advertise`,
      );
    }
    this.#membership = membership;
    this.#ctx = ctx;
  }

  /** Joins every broker, advertising `bound` (the listening address) unless told otherwise. */
  start(bound: { hostname: string; port: number }): void {
    const { advertise } = this.#membership;
    const self = advertise === undefined
      ? formatAddress({ ...bound, username: null, password: null })
      : formatAddress(advertised(advertise));
    const urls = typeof this.#membership.url === "string"
      ? [this.#membership.url]
      : this.#membership.url;
    const tags = this.#tags();
    for (const url of urls) {
      this.#joined.set(url, deferred());
      this.#loops.push(this.#keepJoined(url, self, tags));
    }
  }

  /** Resolves once this server is a member of every broker (joined at least once). */
  async joined(): Promise<void> {
    await Promise.all([...this.#joined.values()].map((joined) => joined.promise));
  }

  /** Leaves every broker: their connections close, and they send no more clients. */
  async close(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#loops);
  }

  #tags(): Promise<string[]> {
    const tag = credentialTagger(this.#membership.secret);
    const { auth } = this.#ctx;
    // A server with no credentials accepts only empty ones.
    const pairs: readonly (readonly [string, string])[] = auth.length === 0 ? [["", ""]] : auth;
    return Promise.all(pairs.map(([user, pass]) => tag(user, pass)));
  }

  // One broker, for as long as the server runs: join, report, and join again when it ends.
  async #keepJoined(url: string, self: string, tags: Promise<string[]>): Promise<void> {
    const { logger } = this.#ctx;
    const { hostname, port } = parseAddress(url);
    const address = formatAddress({
      hostname,
      port,
      username: MEMBER_USER,
      password: this.#membership.secret,
    });
    let lastProblem = "";
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      const rpc = new AsyncRPC(address, {
        reconnect: false,
        debug: this.#ctx.debug,
        compression: this.#ctx.compression,
      });
      try {
        await rpc.connect();
        const stream: AsyncIterable<Joined> = await rpc.call(JOIN, [self, await tags]);
        const membership = stream[Symbol.asyncIterator]();
        const first = await membership.next();
        if (first.done) throw new Error("the broker ended the membership at once");
        logger.info("joined broker", { broker: url, id: first.value.id, as: self });
        this.#joined.get(url)?.resolve();
        attempt = 0;
        lastProblem = "";
        await this.#report(rpc, first.value, membership.next());
      } catch (err) {
        const problem = err instanceof Error ? err.message : String(err);
        // Logged when it changes, not at every retry of a broker that stays down.
        if (problem !== lastProblem && !this.#stop.signal.aborted) {
          logger.warn("cannot join broker", { broker: url, error: problem });
        }
        lastProblem = problem;
      } finally {
        await rpc.close();
      }
      await sleep(backoffDelay(attempt, RETRY_MIN, RETRY_MAX), this.#stop.signal);
    }
  }

  // Reports at the broker's interval until the membership ends: the stream ends (the broker
  // dropped this server), the connection closes, or the server stops.
  async #report(rpc: AsyncRPC, joined: Joined, ended: Promise<unknown>): Promise<void> {
    const over = new AbortController();
    const end = () => over.abort();
    ended.then(end, end);
    rpc.closed.then(end);
    const signal = AbortSignal.any([over.signal, this.#stop.signal]);
    const interval = Math.max(0.01, Number(joined.interval) || 1);
    while (await sleep(interval * 1000, signal)) {
      await rpc.call(REPORT, [joined.id, this.#ctx.load()], {}, { timeout: 3 * interval, signal });
    }
    if (!this.#stop.signal.aborted) throw new Error("the broker ended the membership");
  }
}
