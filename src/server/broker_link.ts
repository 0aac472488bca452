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
import { type Compression, isMap } from "../protocol/messages.ts";
import type { TlsClientOptions } from "../platform/transport.ts";
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
import { checkOptions, optionNames } from "../util/options.ts";
import type { Credential } from "./credentials.ts";
import { type Deferred, deferred } from "../util/deferred.ts";
import { MAX_TIMER_DELAY } from "../util/timers.ts";
import { LoginError, TimeoutException } from "../protocol/errors.ts";
import { Wakeup } from "../util/wakeup.ts";

/** Where a server joins: the `broker` option of `Server`. */
export interface BrokerMembership {
  /** The broker's address, `tcp://host:port`, or several: the server joins every one. */
  url: string | readonly string[];
  /** The secret the brokers expect from members. */
  secret: string;
  /**
   * Where clients reach this server, `tcp://host:port`, when it is not the address it listens
   * on (a server listening on `0.0.0.0`, or behind NAT). Default: the listening address. (A TLS
   * server is advertised as `tls://` either way.)
   */
  advertise?: string;
  /** What a `tls://` broker connection trusts and presents, as the client's `tls` option. */
  tls?: TlsClientOptions;
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
  /** Whether the server serves TLS (it is advertised as `tls://`). */
  tls: boolean;
}

// Retrying a broker: from 100 ms up to 2 s between attempts, so a restarted broker has its
// members back within about two seconds; a broker that refused the secret, every 30 s at most.
const RETRY_MIN = 100;
const RETRY_MAX = 2000;
const REFUSED_RETRY_MAX = 30_000;
// Seconds a broker has to accept the connection, and then to answer broker.join.
const JOIN_TIMEOUT = 5;

// Checks a `broker` option; throws a `TypeError` naming what is wrong.
const MEMBERSHIP_OPTIONS = optionNames<BrokerMembership>({
  url: true,
  secret: true,
  advertise: true,
  tls: true,
});

function checkMembership(membership: BrokerMembership): void {
  checkOptions("BrokerMembership", membership, MEMBERSHIP_OPTIONS);
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
    throw new TypeError(`broker.advertise must be tcp://host:port (or tls://), not '${url}'`);
  }
  return target.address;
}

/** A server's memberships, one per broker. Owns their connections and retry timers. */
export class BrokerLink {
  readonly #urls: readonly string[];
  readonly #membership: BrokerMembership;
  readonly #ctx: LinkContext;
  readonly #stop = new AbortController();
  readonly #joined = new Map<string, Deferred<boolean>>();
  // Memberships established now, each settled once its connection is closed.
  readonly #established = new Set<Promise<void>>();
  readonly #changed = new Wakeup();
  // Whether the connections changed since the last report.
  #dirty = false;
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
    this.#urls = typeof membership.url === "string" ? [membership.url] : membership.url;
    this.#ctx = ctx;
  }

  /** Joins every broker, advertising `bound` (the listening address) unless told otherwise. */
  start(bound: { hostname: string; port: number }): void {
    const { advertise } = this.#membership;
    const { hostname, port } = advertise === undefined ? bound : advertised(advertise);
    const self = formatAddress({
      hostname,
      port,
      username: null,
      password: null,
      tls: this.#ctx.tls,
    });
    const tags = this.#tags();
    for (const url of this.#urls) {
      this.#joined.set(url, deferred());
      this.#loops.push(this.#keepJoined(url, self, tags));
    }
  }

  /**
   * Resolves to `true` once this server is a member of every broker (joined at least once), or to
   * `false` if it leaves first.
   */
  async joined(): Promise<boolean> {
    const joined = await Promise.all([...this.#joined.values()].map((each) => each.promise));
    return joined.every(Boolean);
  }

  /**
   * The server's connections changed: members report within a tenth of the interval instead of
   * at its end, so that a broker does not rank this server by connections long gone (or miss a
   * surge) for a whole interval.
   */
  changed(): void {
    this.#dirty = true;
    this.#changed.wake();
  }

  /**
   * Leaves every broker: resolves once each established membership's connection has closed, so
   * the brokers send no more clients. A join still connecting ends in the background (see
   * {@linkcode BrokerLink.close}).
   */
  async leave(): Promise<void> {
    this.#stop.abort();
    for (const joined of this.#joined.values()) joined.resolve(false);
    await Promise.all(this.#established);
  }

  /** Leaves, and waits until every membership's connection and timer is released. */
  async close(): Promise<void> {
    await this.leave();
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
    const { hostname, port, tls } = parseAddress(url);
    const password = this.#membership.secret;
    const address = formatAddress({ hostname, port, username: MEMBER_USER, password, tls });
    let lastProblem = "";
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      const rpc = new AsyncRPC(address, {
        reconnect: false,
        connectTimeout: JOIN_TIMEOUT,
        tls: this.#membership.tls,
        debug: this.#ctx.debug,
        compression: this.#ctx.compression,
      });
      let retryMax = RETRY_MAX;
      const left = deferred<void>();
      try {
        await rpc.connect();
        this.#established.add(left.promise);
        const [id, interval, membership] = await this.#join(rpc, self, await tags);
        logger.info("joined broker", { broker: url, id, as: self });
        this.#joined.get(url)?.resolve(true);
        attempt = 0;
        lastProblem = "";
        await this.#report(rpc, id, interval, membership.next());
      } catch (err) {
        const problem = err instanceof Error ? err.message : String(err);
        // Logged when it changes, not at every retry of a broker that stays down.
        if (problem !== lastProblem && !this.#stop.signal.aborted) {
          logger.warn("cannot join broker", { broker: url, error: problem });
        }
        lastProblem = problem;
        // A refused secret will not fix itself soon: retry rarely, and keep the logs quiet.
        if (err instanceof LoginError) retryMax = REFUSED_RETRY_MAX;
      } finally {
        await rpc.close();
        this.#established.delete(left.promise);
        left.resolve();
      }
      await sleep(backoffDelay(attempt, RETRY_MIN, retryMax), this.#stop.signal);
    }
  }

  // Calls broker.join; resolves to the membership's ID, report interval (ms) and stream, once its
  // first item came (within JOIN_TIMEOUT). Leaving aborts it.
  async #join(
    rpc: AsyncRPC,
    self: string,
    tags: string[],
  ): Promise<[string, number, AsyncIterator<unknown>]> {
    const answered = new AbortController();
    const timer = setTimeout(
      () => answered.abort(new TimeoutException(`no answer to ${JOIN} within ${JOIN_TIMEOUT} s`)),
      JOIN_TIMEOUT * 1000,
    );
    try {
      const signal = AbortSignal.any([this.#stop.signal, answered.signal]);
      const stream: AsyncIterable<unknown> = await rpc.call(JOIN, [self, tags], {}, { signal });
      const membership = stream[Symbol.asyncIterator]();
      const first = await membership.next();
      if (first.done || !isMap(first.value)) throw new Error(`not a ${JOIN} answer`);
      const { id, interval } = first.value as Partial<Joined>;
      const ms = Math.max(10, Math.min(Number(interval) * 1000 || 1000, MAX_TIMER_DELAY / 3));
      return [String(id), ms, membership];
    } finally {
      clearTimeout(timer);
    }
  }

  // Reports at the broker's interval, or sooner after a change, until the membership ends: the
  // stream ends (the broker dropped this server), the connection closes, or the server stops.
  async #report(rpc: AsyncRPC, id: string, interval: number, ended: Promise<unknown>) {
    const over = new AbortController();
    const end = () => over.abort();
    ended.then(end, end);
    rpc.closed.then(end);
    const signal = AbortSignal.any([over.signal, this.#stop.signal]);
    const timeout = (3 * interval) / 1000;
    while (await this.#due(interval, signal)) {
      this.#dirty = false;
      await rpc.call(REPORT, [id, this.#ctx.load()], {}, { timeout, signal });
    }
    if (!this.#stop.signal.aborted) throw new Error("the broker ended the membership");
  }

  // Waits a tenth of `interval`, then, unless the connections changed meanwhile, until they
  // change or the interval is over; `false` if `signal` aborts first.
  async #due(interval: number, signal: AbortSignal): Promise<boolean> {
    if (!await sleep(interval / 10, signal)) return false;
    if (this.#dirty) return true;
    const early = new AbortController();
    this.#changed.wait().then(() => early.abort());
    await sleep(interval * 0.9, AbortSignal.any([signal, early.signal]));
    return !signal.aborted;
  }
}
