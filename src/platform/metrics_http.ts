/**
 * An HTTP/1.1 listener that serves one text document at one path, for a Prometheus scraper.
 * `node:http` is the same on Deno (`--allow-net` is enough) and Node, so one file serves both.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Address } from "./transport.ts";

/** A listening HTTP server; see {@linkcode serveText}. */
export interface TextListener {
  /** The bound address; `port` is the real port when 0 was asked for. */
  readonly addr: { hostname: string; port: number };
  /** Stops listening and closes every connection; resolves once closed. */
  close(): Promise<void>;
}

/** What {@linkcode serveText} serves. */
export interface TextDocument {
  /** The path it answers, e.g. `/metrics`; any query is ignored. */
  path: string;
  /** The `Content-Type` of the text. */
  contentType: string;
  /** Makes the text, for each request. */
  render(): string;
  /** Told of a failure of the listener once it listens (say, out of file descriptors). */
  onError(err: Error): void;
}

// What a scraper (or anyone who can reach the port) can make the listener hold: a few
// connections, each with small headers, for a few seconds.
const MAX_CONNECTIONS = 64;
const MAX_HEADER_BYTES = 8 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;

const encoder = new TextEncoder();

function answer(res: ServerResponse, status: number, headers: Record<string, string>, body = "") {
  const bytes = encoder.encode(body);
  res.writeHead(status, { ...headers, "content-length": String(bytes.length) });
  res.end(bytes);
}

function respond(req: IncomingMessage, res: ServerResponse, doc: TextDocument): void {
  const path = (req.url ?? "").split("?", 1)[0];
  const text = { "content-type": "text/plain; charset=utf-8" };
  if (path !== doc.path) return answer(res, 404, text, "not found\n");
  if (req.method !== "GET" && req.method !== "HEAD") {
    // Its body is not read: the connection closes after the answer.
    return answer(res, 405, { ...text, allow: "GET, HEAD", connection: "close" }, "GET only\n");
  }
  let body: string;
  try {
    body = doc.render();
  } catch {
    // A bug in render must not end the process (it would, thrown from node:http's handler).
    return answer(res, 500, text, "cannot render\n");
  }
  answer(res, 200, { "content-type": doc.contentType }, req.method === "HEAD" ? "" : body);
}

/**
 * Serves `doc` at `address` over HTTP/1.1: `GET` (or `HEAD`) of `doc.path` gets the text; another
 * path gets 404, another method 405. At most 64 connections, 8 KiB of headers, 10 seconds for a
 * request.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveText } from "./metrics_http.ts";
 * const listener = await serveText({ hostname: "127.0.0.1", port: 0 }, {
 *   path: "/metrics",
 *   contentType: "text/plain; charset=utf-8",
 *   render: () => "up 1\n",
 *   onError: (err) => console.error(err),
 * });
 * try {
 *   const url = `http://127.0.0.1:${listener.addr.port}`;
 *   assert.equal(await (await fetch(`${url}/metrics`)).text(), "up 1\n");
 *   const missing = await fetch(`${url}/other`);
 *   await missing.body?.cancel();
 *   assert.equal(missing.status, 404);
 * } finally {
 *   await listener.close();
 * }
 * ```
 */
export async function serveText(address: Address, doc: TextDocument): Promise<TextListener> {
  const server = createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    headersTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // How often the request timeouts are checked (default 30 s: a slow request would be held
    // three times as long as its timeout).
    connectionsCheckingInterval: 1_000,
  }, (req, res) => respond(req, res, doc));
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // From now on a failure (an accept that runs out of file descriptors) is reported, never
  // thrown: an "error" event with no listener would end the process.
  server.on("error", (err) => doc.onError(err));
  const bound = server.address();
  const port = typeof bound === "object" && bound ? bound.port : address.port;
  let closing: Promise<void> | undefined;
  return {
    addr: { hostname: address.hostname, port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
