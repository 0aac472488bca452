/**
 * The broker's table of members: the servers that joined it, their last reported load, and
 * which client credentials each accepts. It drops a member that stops reporting.
 *
 * @module
 */
import { formatAddress, type HostPort } from "../protocol/address.ts";
import { RequestError, RpcUnavailableException } from "../protocol/errors.ts";
import type { MemberLoad } from "../protocol/membership.ts";
import { deferred } from "../util/deferred.ts";
import type { Logger } from "../util/logger.ts";

/** A member as `broker.members` shows it. */
export interface MemberInfo {
  /** The membership's ID. */
  id: string;
  /** Where clients reach it: `tcp://HOST:PORT`. */
  url: string;
  /** The address its membership connection came from. */
  peer: string;
  /** Its last reported load. */
  load: MemberLoad;
  /** Clients the broker sent to it since that report. */
  sent: number;
  /** Seconds since that report. */
  reportedAgo: number;
}

/** One member: what it reported, and a promise that settles when its membership ends. */
export interface Member {
  readonly id: string;
  readonly address: HostPort & { tls?: boolean };
  readonly url: string;
  readonly peer: string;
  readonly tags: ReadonlySet<string>;
  load: MemberLoad;
  sent: number;
  reportedAt: number;
  readonly ended: Promise<void>;
  end(): void;
}

/** How many report intervals a member may miss before it is dropped. */
const MISSED_REPORTS = 3;
/** The most members one broker keeps: a bound on what secret holders can make it hold. */
export const MAX_MEMBERS = 1024;

/** The members of one broker. Owns the timer that drops silent members. */
export class Members {
  readonly #members = new Map<string, Member>();
  readonly #interval: number;
  readonly #logger: Logger;
  #sweep?: ReturnType<typeof setInterval>;

  /** `interval`: milliseconds between a member's reports. */
  constructor(interval: number, logger: Logger) {
    this.#interval = interval;
    this.#logger = logger;
  }

  /**
   * Adds a member reached at `address`, joined over the connection from `peer`; it counts as
   * having reported nothing yet (no load). A member already at `address` is replaced (a server
   * that joined again before its old membership timed out). Throws `RequestError` if `peer`'s
   * connection is a member already, `RpcUnavailableException` past {@linkcode MAX_MEMBERS}.
   */
  join(address: HostPort & { tls?: boolean }, tags: ReadonlySet<string>, peer: string): Member {
    const url = formatAddress({ ...address, username: null, password: null });
    for (const member of this.#members.values()) {
      if (member.peer === peer) throw new RequestError("this connection is a member already");
      if (member.url === url) this.remove(member.id, "it joined again");
    }
    if (this.#members.size >= MAX_MEMBERS) {
      throw new RpcUnavailableException(`the broker has ${MAX_MEMBERS} members, the most it keeps`);
    }
    const ended = deferred<void>();
    const member: Member = {
      id: crypto.randomUUID(),
      address,
      url,
      peer,
      tags,
      load: { connections: 0, calls: 0, queued: 0 },
      sent: 0,
      reportedAt: Date.now(),
      ended: ended.promise,
      end: () => ended.resolve(),
    };
    this.#members.set(member.id, member);
    this.#sweep ??= setInterval(() => this.#dropSilent(), this.#interval);
    this.#logger.info("member joined", { id: member.id, url, peer });
    return member;
  }

  /**
   * Records a member's report, sent over the connection from `peer`; `false` if it is no member
   * (dropped, or never joined) or joined over another connection (one member cannot report for
   * another).
   */
  report(id: string, load: MemberLoad, peer: string): boolean {
    const member = this.#members.get(id);
    if (!member || member.peer !== peer) return false;
    member.load = load;
    member.sent = 0;
    member.reportedAt = Date.now();
    return true;
  }

  /** Ends a membership, logging why; nothing if it has ended already. */
  remove(id: string, reason: string): void {
    const member = this.#members.get(id);
    if (!member) return;
    this.#members.delete(id);
    member.end();
    this.#logger.info("member left", { id, url: member.url, reason });
    if (this.#members.size === 0) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  /** The members that accept credentials with tag `tag`. */
  accepting(tag: string): Member[] {
    return [...this.#members.values()].filter((member) => member.tags.has(tag));
  }

  /** How many members there are. */
  get size(): number {
    return this.#members.size;
  }

  /** Every member, for `broker.members`. */
  list(): MemberInfo[] {
    const now = Date.now();
    return [...this.#members.values()].map(({ id, url, peer, load, sent, reportedAt }) => ({
      id,
      url,
      peer,
      load,
      sent,
      reportedAgo: (now - reportedAt) / 1000,
    }));
  }

  /** Ends every membership and stops the timer. */
  close(): void {
    for (const id of [...this.#members.keys()]) this.remove(id, "the broker closed");
  }

  #dropSilent(): void {
    const limit = Date.now() - MISSED_REPORTS * this.#interval;
    for (const member of [...this.#members.values()]) {
      if (member.reportedAt < limit) this.remove(member.id, "missed its load reports");
    }
  }
}
