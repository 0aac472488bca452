/**
 * The "practical limit" server of bench/halves.ts: a correct MPRPC peer with no RPC machinery.
 * One read loop per connection splits frames (0.1 terminators, or `len32` once negotiated),
 * decodes each message with @msgpack/msgpack (the library's own version, from deps.ts), answers
 * the handshake, heartbeats and the calls `add(a, b)`, `echo(x)` and `stream(n)` (0, 1, …, n − 1:
 * `201`, a `202` per item, `206`), and writes every answer of a read in one write. No dispatch
 * table, call objects, promises per call, validation beyond what the wire needs, or logging.
 * Streams are sent as fast as the socket takes them (0.1 streams: no `credit`); only `len32` is
 * accepted of the extensions, so a client never sends `CANCEL`, `DEADLINE` or `CREDIT`.
 *
 * Prints its port, then its pid, one a line. `--no-len32` refuses `len32` (answers `EXT: []`), so
 * that `AsyncRPC` stays on terminators. Raw TCP comes from the test platform, so the same file
 * runs on Deno and (built) on Node.
 *
 * @module
 */
import process from "node:process";
import { Decoder, Encoder } from "../../deps.ts";
import { listenTcp, runtime } from "../../tests/test_platform.deno.ts";
import type { TcpConnection } from "../../tests/test_platform.ts";

const TERM = new TextEncoder().encode("##PRO-END##");
const MAX_MESSAGE = 64 * 1024 * 1024;
// Stream answers are written in chunks of about this size, not held whole.
const FLUSH_AT = 64 * 1024;
// A connection's reads start this small, so that an idle connection holds little (Deno makes a
// whole new buffer resident), and double up to MAX_READ while reads fill all the room they get.
const FIRST_READ = 2 * 1024;
const MAX_READ = 64 * 1024;
const LEN32 = !runtime().args.includes("--no-len32");
const decoder = new Decoder();
const encoder = new Encoder();

type Message = Record<string, unknown>;

const isMap = (value: unknown): value is Message =>
  typeof value === "object" && value !== null && !Array.isArray(value) &&
  !(value instanceof Uint8Array);

/**
 * The answers to one read, framed back to back. One outbox serves every connection: it is filled
 * and emptied with no await in between, so connections never see each other's bytes.
 */
class Outbox {
  #buf = new Uint8Array(256 * 1024);
  #length = 0;

  /** Bytes waiting. */
  get size(): number {
    return this.#length;
  }

  /** Encodes `message` and frames it: a 4-byte length first (`len32`) or the terminator after. */
  push(message: Message, len32: boolean): void {
    const payload = encoder.encodeSharedRef(message);
    this.#reserve(payload.length + TERM.length);
    const b = this.#buf;
    if (len32) {
      new DataView(b.buffer).setUint32(this.#length, payload.length);
      b.set(payload, this.#length + 4);
      this.#length += 4 + payload.length;
    } else {
      b.set(payload, this.#length);
      b.set(TERM, this.#length + payload.length);
      this.#length += payload.length + TERM.length;
    }
  }

  /** The bytes waiting, as a copy the caller may write at leisure; empties the outbox. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#length);
    this.#length = 0;
    return out;
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#length + extra));
    grown.set(this.#buf.subarray(0, this.#length));
    this.#buf = grown;
  }
}

const outbox = new Outbox();

/** One connection: its socket, its read buffer, and where the handshake left it. */
class Peer {
  authenticated = false;
  len32 = false;
  /** Set once an error that ends the connection has been queued. */
  closing = false;
  buf = new Uint8Array(FIRST_READ);
  readSize = FIRST_READ;
  start = 0;
  end = 0;
  // Where the terminator search resumes: a frame spread over many reads is scanned once.
  scanFrom = 0;

  constructor(readonly conn: TcpConnection) {}

  /** Writes what the outbox holds; false if the client is gone. */
  async flush(): Promise<boolean> {
    if (outbox.size === 0) return true;
    try {
      await this.conn.write(outbox.take());
      return true;
    } catch {
      return false;
    }
  }

  /** Reads once into the buffer; false at the end of the connection. */
  async fill(): Promise<boolean> {
    if (this.start === this.end) this.start = this.end = this.scanFrom = 0;
    if (this.buf.length - this.end < this.readSize) this.#makeRoom();
    const room = this.buf.length - this.end;
    const n = await this.conn.read(this.buf.subarray(this.end));
    if (n === null) return false;
    this.end += n;
    if (n === room && this.readSize < MAX_READ) this.readSize *= 2;
    return true;
  }

  /** The next whole frame's payload, `undefined` if none is whole yet, `null` if too big. */
  nextPayload(): Uint8Array | undefined | null {
    return this.len32 ? this.#nextLength32() : this.#nextTerminated();
  }

  #nextLength32(): Uint8Array | undefined | null {
    if (this.start + 4 > this.end) return undefined;
    const length = new DataView(this.buf.buffer).getUint32(this.start);
    if (length > MAX_MESSAGE) return null;
    const at = this.start + 4;
    if (at + length > this.end) return undefined;
    this.start = this.scanFrom = at + length;
    return this.buf.subarray(at, at + length);
  }

  #nextTerminated(): Uint8Array | undefined | null {
    // Bounded at `end`: the bytes past it are left over from earlier reads.
    const b = this.buf.subarray(0, this.end);
    for (
      let i = b.indexOf(0x23, Math.max(this.scanFrom, this.start));
      i !== -1;
      i = b.indexOf(0x23, i + 1)
    ) {
      if (i + TERM.length > b.length) break;
      if (!matchesTerminator(b, i)) continue;
      const payload = b.subarray(this.start, i);
      this.start = this.scanFrom = i + TERM.length;
      return payload;
    }
    // The last 10 bytes may be the start of a terminator: scan them again with the next read.
    this.scanFrom = Math.max(this.start, this.end - TERM.length + 1);
    return this.end - this.start > MAX_MESSAGE ? null : undefined;
  }

  // Moves the unread bytes to the front, growing the buffer if they leave too little room.
  #makeRoom(): void {
    const unread = this.end - this.start;
    const needed = unread + this.readSize;
    let size = this.buf.length;
    while (size < needed) size *= 2;
    const target = size === this.buf.length ? this.buf : new Uint8Array(size);
    target.set(this.buf.subarray(this.start, this.end));
    this.buf = target;
    this.scanFrom -= this.start;
    this.end = unread;
    this.start = 0;
  }
}

function matchesTerminator(b: Uint8Array, at: number): boolean {
  for (let k = 1; k < TERM.length; k++) if (b[at + k] !== TERM[k]) return false;
  return true;
}

function sendCode(peer: Peer, CODE: number, fields: Message = {}): void {
  outbox.push({ MPRPC: "0.1", CODE, ...fields }, peer.len32);
}

// A connection-level error that ends the connection: the answer goes out, then the close.
function fail(peer: Peer, code: number): void {
  sendCode(peer, code);
  peer.closing = true;
}

function callError(peer: Peer, code: number, ID: string, call: Message, exception: string) {
  const MESSAGE = `${exception}: ${String(call.METHOD)}`;
  const DATA = { METHOD: call.METHOD, ARGS: call.ARGS ?? [], KWARGS: call.KWARGS ?? {} };
  sendCode(peer, code, { MESSAGE: { ID, EXCEPTION: exception, MESSAGE, DATA } });
}

function handshake(peer: Peer, auth: unknown): void {
  if (peer.authenticated) return sendCode(peer, 506);
  if (!isMap(auth) || auth.USERNAME !== "admin" || auth.PASSWORD !== "admin") {
    return fail(peer, 501);
  }
  peer.authenticated = true;
  const reply: Message = { VERSION: null, DESC: null, DEBUG: false, COMPRESER: null, TIMEOUT: 0 };
  // EXT is answered only when asked for, and lists only what this server does: len32.
  const asked = auth.EXT;
  const accepted = LEN32 ? ["len32"] : [];
  if (Array.isArray(asked)) reply.EXT = accepted.filter((name) => asked.includes(name));
  sendCode(peer, 100, reply);
  // The reply itself is terminated; every frame after it, both ways, is length-prefixed.
  if ((reply.EXT as string[] | undefined)?.includes("len32")) peer.len32 = true;
}

/** A stream the read loop must send before it reads on: its ID and item count. */
interface StreamCall {
  ID: string;
  n: number;
}

// Answers a call at once, or returns the stream it asks for.
function call(peer: Peer, message: Message, ID: string): StreamCall | undefined {
  const args = message.ARGS ?? [];
  if (typeof message.METHOD !== "string" || !Array.isArray(args) || message.RETURN === false) {
    return void callError(peer, 400, ID, message, "RequestError");
  }
  switch (message.METHOD) {
    case "add":
      return void sendCode(peer, 200, { MESSAGE: { ID, RESULT: args[0] + args[1] } });
    case "echo":
      return void sendCode(peer, 200, { MESSAGE: { ID, RESULT: args[0] } });
    case "stream":
      return { ID, n: Number(args[0]) };
  }
  callError(peer, 401, ID, message, "NotFindError");
}

/** Answers one decoded message; a stream call is returned for the read loop to send. */
function answer(peer: Peer, message: unknown): StreamCall | undefined {
  if (!isMap(message)) return void sendCode(peer, 506);
  if (message.MPRPC !== "0.1") return void fail(peer, 505);
  if ("AUTH" in message) return void handshake(peer, message.AUTH);
  if (!peer.authenticated) return void fail(peer, 501);
  if (message.HEARTBEAT === "ping") return void sendCode(peer, 101, { HEARTBEAT: "pong" });
  if (typeof message.ID === "string") return call(peer, message, message.ID);
  sendCode(peer, 506);
}

/**
 * Sends a whole stream, flushing every FLUSH_AT bytes and at the end; false if the client is
 * gone. Each flush takes the outbox before it awaits, so no other connection's answers mix in.
 */
async function sendStream(peer: Peer, { ID, n }: StreamCall): Promise<boolean> {
  sendCode(peer, 201, { MESSAGE: { ID } });
  for (let i = 0; i < n; i++) {
    sendCode(peer, 202, { MESSAGE: { ID, RESULT: i } });
    if (outbox.size >= FLUSH_AT && !await peer.flush()) return false;
  }
  sendCode(peer, 206, { MESSAGE: { ID } });
  return await peer.flush();
}

const UNDECODABLE = Symbol("undecodable");

function decode(payload: Uint8Array): unknown {
  try {
    return decoder.decode(payload);
  } catch {
    return UNDECODABLE;
  }
}

/**
 * Answers the whole frames in the buffer, into the outbox, until a stream call (returned, for the
 * caller to send) or an error that ends the connection. Synchronous: the caller flushes before
 * anything else can touch the shared outbox.
 */
function answerFrames(peer: Peer): StreamCall | undefined {
  while (!peer.closing) {
    const payload = peer.nextPayload();
    if (payload === undefined) return;
    const message = payload === null ? UNDECODABLE : decode(payload);
    if (message === UNDECODABLE) {
      fail(peer, 505);
      return;
    }
    const stream = answer(peer, message);
    if (stream) return stream;
  }
}

async function serve(conn: TcpConnection): Promise<void> {
  const peer = new Peer(conn);
  try {
    while (!peer.closing && await peer.fill()) {
      for (let stream = answerFrames(peer);; stream = answerFrames(peer)) {
        if (!await peer.flush()) return;
        if (!stream) break;
        if (!await sendStream(peer, stream)) return;
      }
    }
  } finally {
    conn.close();
  }
}

const listener = await listenTcp();
console.log(listener.port);
console.log(process.pid);
while (true) serve(await listener.accept());
