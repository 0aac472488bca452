/**
 * The logger seam: what the server (and the pool, and later the broker) report, as an event
 * name plus structured fields, so that a JSON logger or a test can consume them as data.
 *
 * @module
 */

/** Structured fields of a log record: peer, user, id, method, code, ms, error, … */
export type LogFields = Record<string, unknown>;

/**
 * Where log records go. `console` fits as it is (`info`, `warn`, `error` with a message and an
 * object), so it is the default; pass any object with these three methods to route records
 * elsewhere.
 *
 * @example Collecting records in a test
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LogFields, Logger } from "mprpc";
 * const records: [string, LogFields][] = [];
 * const logger: Logger = {
 *   info: (event, fields) => records.push([event, fields]),
 *   warn: (event, fields) => records.push([event, fields]),
 *   error: (event, fields) => records.push([event, fields]),
 * };
 * logger.info("call", { method: "add", code: 200 });
 * assert.deepEqual(records, [["call", { method: "add", code: 200 }]]);
 * ```
 */
export interface Logger {
  /** Routine events: connections, the access log. */
  info(event: string, fields: LogFields): void;
  /** Something a peer did wrong, or the server recovered from. */
  warn(event: string, fields: LogFields): void;
  /** Something the server could not recover from on its own. */
  error(event: string, fields: LogFields): void;
}

/** The default logger: the console, each event prefixed with `[mprpc]`. */
export const consoleLogger: Logger = {
  info: (event, fields) => console.info(`[mprpc] ${event}`, fields),
  warn: (event, fields) => console.warn(`[mprpc] ${event}`, fields),
  error: (event, fields) => console.error(`[mprpc] ${event}`, fields),
};
