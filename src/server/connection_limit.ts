/**
 * The server's `maxConnections`: a connection past it is sent the connection-level `503` and
 * closed at once, without a handshake; the open connections are unaffected.
 *
 * @module
 */
import type { Codec } from "../wire/codec.ts";
import { Connection } from "../wire/connection.ts";
import type { Socket } from "../platform/transport.ts";
import { Code, VERSION } from "../protocol/messages.ts";
import type { Logger } from "../util/logger.ts";

/** The default of `maxConnections`. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;

// Refusals are logged at most this often, each record counting those since the previous one.
const LOG_INTERVAL = 10_000;
// How long a refused connection may take to be sent its 503.
const STALLED = 2_000;

/**
 * Counts against `maxConnections` and refuses connections past it. A flood of refused
 * connections is one `connection refused` record per 10 s, counting them.
 */
export class ConnectionLimit {
  /** The most connections served at once. */
  readonly max: number;
  readonly #logger: Logger;
  // Refused connections still being answered: closing the server waits for them.
  readonly #refusing = new Set<Promise<void>>();
  #unlogged = 0;
  #logged = -Infinity;

  /** Checks `max` (a whole number above 0, or `Infinity`); throws a `TypeError` otherwise. */
  constructor(max: number | undefined, logger: Logger) {
    this.max = max ?? DEFAULT_MAX_CONNECTIONS;
    if (!(Number.isInteger(this.max) && this.max >= 1) && this.max !== Infinity) {
      throw new TypeError(
        `maxConnections must be a whole number above 0 (or Infinity), not ${max}`,
      );
    }
    this.#logger = logger;
  }

  /** Whether one more connection fits beside `open` ones. */
  admits(open: number): boolean {
    return open < this.max;
  }

  /** Sends `socket` `{"MPRPC": "0.1", "CODE": 503}` and closes it, without a handshake. */
  refuse(socket: Socket, codec: Codec): void {
    this.#log(socket.remoteAddress);
    const refusing = answer(socket, codec).catch(() => {}).finally(() =>
      this.#refusing.delete(refusing)
    );
    this.#refusing.add(refusing);
  }

  /** Resolves once every refused connection is closed; logs the refusals not logged yet. */
  async close(): Promise<void> {
    await Promise.all(this.#refusing);
    if (this.#unlogged > 0) this.#record(null);
  }

  #log(peer: string): void {
    this.#unlogged++;
    const now = Date.now();
    if (now - this.#logged < LOG_INTERVAL) return;
    this.#logged = now;
    this.#record(peer);
  }

  // `refused`: connections refused since the previous record, the one of `peer` included.
  #record(peer: string | null): void {
    this.#logger.warn("connection refused", {
      peer,
      reason: "maxConnections",
      maxConnections: this.max,
      refused: this.#unlogged,
    });
    this.#unlogged = 0;
  }
}

async function answer(socket: Socket, codec: Codec): Promise<void> {
  const conn = new Connection(socket, codec);
  try {
    await conn.send({ MPRPC: VERSION, CODE: Code.UNAVAILABLE });
  } catch {
    // The peer is already gone.
  }
  // A peer that does not take even these few bytes (one that stalls a TLS handshake) is cut off.
  await conn.close(STALLED);
}
