/**
 * A lean MPRPC load generator, light enough that the server, not the client, is what a run
 * measures. Over raw TCP it does the handshake itself (`admin`/`admin`, and `EXT: ["len32"]` when
 * asked), then sends requests encoded once up front, each with a fixed-width ID (`q0000`, …) that
 * is reused as soon as its answer is back. Answers are read in place in the receive buffer (no
 * decoding into objects, no promise per call), and every one is checked: protocol version, code,
 * an ID that is outstanding, and the result.
 *
 * Prints one {@linkcode Measurement} as a JSON line: the measured window's wall time, its own CPU
 * time, and the server's (from `/proc`, when `--server-pid` is given).
 *
 *   deno run --lock=deno.dev.lock -A bench/lean_client.ts --port P [--framing 0.1|len32]
 *     [--workload pipelined|sequential|echo|stream|idle] [--conns C] [--depth N] [--calls K]
 *     [--warmup W] [--items I] [--server-pid PID]
 *
 * Workloads: `pipelined` add(1,2) with `depth` calls in flight on each of `conns` connections;
 * `sequential` add(1,2) one at a time (p50/p99); `echo` of 1 MiB of binary, one at a time (units
 * are MiB moved, both directions); `stream` of `items` numbers, checked in order; `idle`: `conns`
 * authenticated connections held open, and the server's RSS growth per connection.
 *
 * @module
 */
import { Decoder, Encoder } from "../deps.ts";
import { connectTcp, runtime } from "../tests/test_platform.deno.ts";
import type { TcpConnection } from "../tests/test_platform.ts";
import { residentBytes } from "./process_stats.ts";
import {
  type Framing,
  type Measurement,
  measureWindow,
  numberFlag,
  parseFlags,
  quantile,
} from "./measurement.ts";

const TERM = new TextEncoder().encode("##PRO-END##");
const INCOMPLETE = -1;
// Below this much free room at the end of the receive buffer, it is compacted or grown first.
const MIN_READ = 64 * 1024;
const ID_DIGITS = 4;
const MAX_SLOTS = 10 ** ID_DIGITS;
const encoder = new Encoder();

const ascii = (text: string) => new TextEncoder().encode(text);
const KEY_MPRPC = ascii("MPRPC");
const KEY_CODE = ascii("CODE");
const KEY_MESSAGE = ascii("MESSAGE");
const KEY_ID = ascii("ID");
const KEY_RESULT = ascii("RESULT");
const VERSION = ascii("0.1");

/** What an answer's `RESULT` was, as far as the checks need to know. */
const Result = { None: 0, Int: 1, Bin: 2, Other: 3 } as const;

// A big-endian unsigned integer of `width` bytes at `at`.
function readUint(b: Uint8Array, at: number, width: number): number {
  let n = 0;
  for (let i = 0; i < width; i++) n = n * 256 + b[at + i];
  return n;
}

function bounded(next: number, end: number): number {
  return next <= end ? next : INCOMPLETE;
}

// A str, bin or ext whose length is in the `width` bytes after the type byte; `extra` is the ext
// type byte.
function skipSized(b: Uint8Array, p: number, end: number, width: number, extra: number): number {
  if (p + 1 + width > end) return INCOMPLETE;
  return bounded(p + 1 + width + extra + readUint(b, p + 1, width), end);
}

function skipValues(b: Uint8Array, p: number, end: number, count: number): number {
  for (let i = 0; i < count && p !== INCOMPLETE; i++) p = skipValue(b, p, end);
  return p;
}

// A collection whose count is in the `width` bytes after the type byte; `per` values an entry.
function skipCollection(b: Uint8Array, p: number, end: number, width: number, per: number) {
  if (p + 1 + width > end) return INCOMPLETE;
  return skipValues(b, p + 1 + width, end, readUint(b, p + 1, width) * per);
}

/** The position after the MessagePack value at `p`, or INCOMPLETE if it runs past `end`. */
function skipValue(b: Uint8Array, p: number, end: number): number {
  if (p >= end) return INCOMPLETE;
  const t = b[p];
  if (t <= 0x7f || t >= 0xe0) return p + 1;
  if (t <= 0x8f) return skipValues(b, p + 1, end, (t & 0x0f) * 2);
  if (t <= 0x9f) return skipValues(b, p + 1, end, t & 0x0f);
  if (t <= 0xbf) return bounded(p + 1 + (t & 0x1f), end);
  switch (t) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return p + 1;
    case 0xc4:
    case 0xd9:
      return skipSized(b, p, end, 1, 0);
    case 0xc5:
    case 0xda:
      return skipSized(b, p, end, 2, 0);
    case 0xc6:
    case 0xdb:
      return skipSized(b, p, end, 4, 0);
    case 0xc7:
      return skipSized(b, p, end, 1, 1);
    case 0xc8:
      return skipSized(b, p, end, 2, 1);
    case 0xc9:
      return skipSized(b, p, end, 4, 1);
    case 0xcc:
    case 0xd0:
      return bounded(p + 2, end);
    case 0xcd:
    case 0xd1:
    case 0xd4:
      return bounded(p + 3, end);
    case 0xd5:
      return bounded(p + 4, end);
    case 0xca:
    case 0xce:
    case 0xd2:
      return bounded(p + 5, end);
    case 0xd6:
      return bounded(p + 6, end);
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return bounded(p + 9, end);
    case 0xd7:
      return bounded(p + 10, end);
    case 0xd8:
      return bounded(p + 18, end);
    case 0xdc:
      return skipCollection(b, p, end, 2, 1);
    case 0xdd:
      return skipCollection(b, p, end, 4, 1);
    case 0xde:
      return skipCollection(b, p, end, 2, 2);
    case 0xdf:
      return skipCollection(b, p, end, 4, 2);
  }
  throw new Error(`0x${t.toString(16)} is not a MessagePack type`);
}

function sameBytes(b: Uint8Array, at: number, length: number, expected: Uint8Array): boolean {
  if (length !== expected.length) return false;
  for (let i = 0; i < length; i++) if (b[at + i] !== expected[i]) return false;
  return true;
}

/**
 * Reads one answer map in place: its `MPRPC`, `CODE`, `MESSAGE.ID` (as a slot number) and
 * `MESSAGE.RESULT` (an integer's value, or where a bin's bytes are). Other fields are skipped.
 * One reader is reused for every answer, so reading allocates nothing.
 */
class AnswerReader {
  versionOk = false;
  code = -1;
  /** The ID's number; -1 without an ID, -2 for an ID this client never sends. */
  slot = -1;
  result: number = Result.None;
  int = 0;
  binAt = 0;
  binLength = 0;
  // The cursor, and the length of the last header read: fields, so that helpers return both
  // without allocating.
  #p = 0;
  #n = 0;

  /** The position after the map at `p`, or INCOMPLETE if it runs past `end`. */
  read(b: Uint8Array, p: number, end: number): number {
    this.versionOk = false;
    this.code = -1;
    this.slot = -1;
    this.result = Result.None;
    this.#p = p;
    if (!this.#mapHeader(b, end)) return INCOMPLETE;
    for (let i = this.#n; i > 0; i--) {
      if (!this.#strHeader(b, end)) return INCOMPLETE;
      const keyAt = this.#p;
      const keyLength = this.#n;
      this.#p += keyLength;
      if (sameBytes(b, keyAt, keyLength, KEY_CODE)) {
        if (!this.#int(b, end)) return INCOMPLETE;
        this.code = this.int;
      } else if (sameBytes(b, keyAt, keyLength, KEY_MESSAGE)) {
        if (!this.#message(b, end)) return INCOMPLETE;
      } else if (sameBytes(b, keyAt, keyLength, KEY_MPRPC) && b[this.#p] === 0xa3) {
        if (this.#p + 4 > end) return INCOMPLETE;
        this.versionOk = sameBytes(b, this.#p + 1, 3, VERSION);
        this.#p += 4;
      } else if ((this.#p = skipValue(b, this.#p, end)) === INCOMPLETE) {
        return INCOMPLETE;
      }
    }
    return this.#p;
  }

  #message(b: Uint8Array, end: number): boolean {
    if (!this.#mapHeader(b, end)) return false;
    for (let i = this.#n; i > 0; i--) {
      if (!this.#strHeader(b, end)) return false;
      const keyAt = this.#p;
      const keyLength = this.#n;
      this.#p += keyLength;
      if (sameBytes(b, keyAt, keyLength, KEY_ID) && b[this.#p] >= 0xa0 && b[this.#p] <= 0xbf) {
        if (!this.#id(b, end)) return false;
      } else if (sameBytes(b, keyAt, keyLength, KEY_RESULT)) {
        if (!this.#result(b, end)) return false;
      } else if ((this.#p = skipValue(b, this.#p, end)) === INCOMPLETE) {
        return false;
      }
    }
    return true;
  }

  // A fixstr ID: "q" and ID_DIGITS digits is a slot; anything else is foreign.
  #id(b: Uint8Array, end: number): boolean {
    const length = b[this.#p] & 0x1f;
    const at = this.#p + 1;
    if (at + length > end) return false;
    this.#p = at + length;
    this.slot = -2;
    if (length !== ID_DIGITS + 1 || b[at] !== 0x71) return true;
    let slot = 0;
    for (let i = 1; i <= ID_DIGITS; i++) {
      const digit = b[at + i] - 0x30;
      if (digit < 0 || digit > 9) return true;
      slot = slot * 10 + digit;
    }
    this.slot = slot;
    return true;
  }

  #result(b: Uint8Array, end: number): boolean {
    if (this.#p >= end) return false;
    const t = b[this.#p];
    if (t >= 0xc4 && t <= 0xc6) {
      const width = 1 << (t - 0xc4);
      if (this.#p + 1 + width > end) return false;
      this.binLength = readUint(b, this.#p + 1, width);
      this.binAt = this.#p + 1 + width;
      if (this.binAt + this.binLength > end) return false;
      this.#p = this.binAt + this.binLength;
      this.result = Result.Bin;
      return true;
    }
    if (t <= 0x7f || t >= 0xe0 || (t >= 0xcc && t <= 0xd3)) {
      this.result = Result.Int;
      return this.#int(b, end);
    }
    this.result = Result.Other;
    return (this.#p = skipValue(b, this.#p, end)) !== INCOMPLETE;
  }

  // An integer of any width into `int` (64-bit ones lose precision past 2^53, as in mprpc).
  #int(b: Uint8Array, end: number): boolean {
    const p = this.#p;
    if (p >= end) return false;
    const t = b[p];
    if (t <= 0x7f) return this.#took(t, 1);
    if (t >= 0xe0) return this.#took(t - 0x100, 1);
    if (t < 0xcc || t > 0xd3) throw new Error(`expected an integer, got type 0x${t.toString(16)}`);
    const width = 1 << ((t - 0xcc) & 3);
    if (p + 1 + width > end) return false;
    let n = readUint(b, p + 1, width);
    if (t >= 0xd0 && n >= 2 ** (8 * width - 1)) n -= 2 ** (8 * width);
    return this.#took(n, 1 + width);
  }

  #took(value: number, size: number): boolean {
    this.int = value;
    this.#p += size;
    return true;
  }

  #mapHeader(b: Uint8Array, end: number): boolean {
    return this.#header(b, end, 0x80, 0x0f, 0xde);
  }

  #strHeader(b: Uint8Array, end: number): boolean {
    const t = b[this.#p];
    if (this.#p < end && t === 0xd9) {
      if (this.#p + 2 > end) return false;
      this.#n = b[this.#p + 1];
      this.#p += 2;
      return true;
    }
    return this.#header(b, end, 0xa0, 0x1f, 0xda);
  }

  // A fix-type header (`fix` … `fix | mask`) or its 16- and 32-bit forms (`wide`, `wide + 1`).
  #header(b: Uint8Array, end: number, fix: number, mask: number, wide: number): boolean {
    const p = this.#p;
    if (p >= end) return false;
    const t = b[p];
    if ((t & ~mask) === fix) {
      this.#n = t & mask;
      this.#p = p + 1;
      return true;
    }
    if (t !== wide && t !== wide + 1) throw new Error(`unexpected type 0x${t.toString(16)}`);
    const width = t === wide ? 2 : 4;
    if (p + 1 + width > end) return false;
    this.#n = readUint(b, p + 1, width);
    this.#p = p + 1 + width;
    return true;
  }
}

/** `payload` framed for `framing`. */
function frame(payload: Uint8Array, framing: Framing): Uint8Array {
  if (framing === "0.1") {
    const out = new Uint8Array(payload.length + TERM.length);
    out.set(payload);
    out.set(TERM, payload.length);
    return out;
  }
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** The request with ID slot `slot`, framed. */
function request(slot: number, method: string, args: unknown[], framing: Framing): Uint8Array {
  const ID = `q${String(slot).padStart(ID_DIGITS, "0")}`;
  return frame(
    encoder.encode({ MPRPC: "0.1", ID, METHOD: method, RETURN: true, ARGS: args }),
    framing,
  );
}

/** One raw, authenticated connection, with its receive buffer and answer reader. */
class LeanConnection {
  readonly reader = new AnswerReader();
  #tcp: TcpConnection;
  #framing: Framing;
  #buf = new Uint8Array(256 * 1024);
  #start = 0;
  #end = 0;

  private constructor(tcp: TcpConnection, framing: Framing) {
    this.#tcp = tcp;
    this.#framing = framing;
  }

  /** Connects to `port` and logs in, asking for `len32` when `framing` is `len32`. */
  static async open(port: number, framing: Framing): Promise<LeanConnection> {
    const conn = new LeanConnection(await connectTcp(port), framing);
    try {
      await conn.#login();
    } catch (error) {
      conn.close();
      throw error;
    }
    return conn;
  }

  /** The buffer the current answer was read in (for its bin bytes). */
  get bytes(): Uint8Array {
    return this.#buf;
  }

  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void> {
    return this.#tcp.write(bytes);
  }

  /** Reads once, appending to the buffer; throws if the server closed the connection. */
  async fill(): Promise<void> {
    this.#makeRoom();
    const n = await this.#tcp.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("the server closed the connection");
    this.#end += n;
  }

  /**
   * Reads the next whole answer in the buffer into {@linkcode reader}; false if none is whole
   * yet. Throws on a malformed frame.
   */
  next(): boolean {
    const b = this.#buf;
    const start = this.#start;
    if (this.#framing === "len32") {
      if (start + 4 > this.#end) return false;
      const at = start + 4;
      const stop = at + readUint(b, start, 4);
      if (stop > this.#end) return false;
      if (this.reader.read(b, at, stop) !== stop) throw new Error("a len32 frame is not one map");
      this.#start = stop;
      return true;
    }
    const after = this.reader.read(b, start, this.#end);
    if (after === INCOMPLETE || after + TERM.length > this.#end) return false;
    if (!sameBytes(b, after, TERM.length, TERM)) throw new Error("no terminator after an answer");
    this.#start = after + TERM.length;
    return true;
  }

  /** Closes the connection. */
  close(): void {
    this.#tcp.close();
  }

  // Moves the unread bytes to the front, or grows the buffer, so that a read has MIN_READ room.
  #makeRoom(): void {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#buf.length - this.#end >= MIN_READ) return;
    const unread = this.#end - this.#start;
    const target = unread + MIN_READ > this.#buf.length
      ? new Uint8Array(this.#buf.length * 2)
      : this.#buf;
    target.set(this.#buf.subarray(this.#start, this.#end));
    this.#buf = target;
    this.#start = 0;
    this.#end = unread;
  }

  async #login(): Promise<void> {
    const auth = { USERNAME: "admin", PASSWORD: "admin" } as Record<string, unknown>;
    if (this.#framing === "len32") auth.EXT = ["len32"];
    // The AUTH and its reply are always terminated: framing switches only after the reply.
    await this.write(frame(encoder.encode({ MPRPC: "0.1", AUTH: auth }), "0.1"));
    let at = -1;
    while ((at = findTerminator(this.#buf, this.#end)) === -1) await this.fill();
    const reply = new Decoder().decode(this.#buf.subarray(0, at)) as Record<string, unknown>;
    this.#start = at + TERM.length;
    if (reply.CODE !== 100) throw new Error(`login refused: ${JSON.stringify(reply)}`);
    const ext = reply.EXT;
    if (this.#framing === "len32" && !(Array.isArray(ext) && ext.includes("len32"))) {
      throw new Error(`the server did not accept len32: ${JSON.stringify(reply)}`);
    }
    if (this.#framing === "0.1" && ext !== undefined) {
      throw new Error(`EXT sent to a client that did not ask: ${JSON.stringify(reply)}`);
    }
  }
}

function findTerminator(b: Uint8Array, end: number): number {
  for (let i = b.indexOf(0x23); i !== -1 && i + TERM.length <= end; i = b.indexOf(0x23, i + 1)) {
    if (sameBytes(b, i, TERM.length, TERM)) return i;
  }
  return -1;
}

/** Throws unless the reader holds a `200` for an outstanding slot with `RESULT: 3`; its slot. */
function checkAdd(reader: AnswerReader, outstanding: Uint8Array): number {
  const slot = reader.slot;
  if (
    !reader.versionOk || reader.code !== 200 || reader.result !== Result.Int || reader.int !== 3
  ) {
    throw new Error(`bad answer to add(1, 2): code ${reader.code}, result ${reader.int}`);
  }
  if (slot < 0 || slot >= outstanding.length || outstanding[slot] !== 1) {
    throw new Error(`an answer for ID slot ${slot}, which is not outstanding`);
  }
  outstanding[slot] = 0;
  return slot;
}

/** `calls` add(1,2) calls on `conn`, `depth` in flight; resolves once all are answered. */
async function pipeline(conn: LeanConnection, frames: Uint8Array[], calls: number): Promise<void> {
  const depth = frames.length;
  const outstanding = new Uint8Array(depth);
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let sent = 0;
  let length = 0;
  for (; sent < Math.min(depth, calls); sent++) {
    out.set(frames[sent], length);
    length += frames[sent].length;
    outstanding[sent] = 1;
  }
  await conn.write(out.subarray(0, length));
  let answered = 0;
  while (answered < calls) {
    length = 0;
    // Every answer in this read frees its slot, and its request goes out again in one write.
    while (conn.next()) {
      const slot = checkAdd(conn.reader, outstanding);
      answered++;
      if (sent < calls) {
        out.set(frames[slot], length);
        length += frames[slot].length;
        outstanding[slot] = 1;
        sent++;
      }
    }
    if (length > 0) await conn.write(out.subarray(0, length));
    if (answered < calls) await conn.fill();
  }
}

/** One request, then its answer; throws unless `check` accepts it. */
async function roundTrip(conn: LeanConnection, bytes: Uint8Array, check: () => void) {
  await conn.write(bytes);
  while (!conn.next()) await conn.fill();
  check();
}

/** What a workload needs: connections open, the options, and the server's pid. */
interface Run {
  port: number;
  framing: Framing;
  serverPid?: number;
  flags: Map<string, string>;
}

async function openAll(run: Run, count: number): Promise<LeanConnection[]> {
  return await Promise.all(
    Array.from({ length: count }, () => LeanConnection.open(run.port, run.framing)),
  );
}

async function pipelined(run: Run): Promise<Measurement> {
  const conns = numberFlag(run.flags, "conns", 1);
  const depth = numberFlag(run.flags, "depth", 256);
  const calls = numberFlag(run.flags, "calls", 200_000);
  const warmup = numberFlag(run.flags, "warmup", 20_000);
  if (depth > MAX_SLOTS) throw new Error(`--depth is at most ${MAX_SLOTS}`);
  const frames = Array.from({ length: depth }, (_, i) => request(i, "add", [1, 2], run.framing));
  const all = await openAll(run, conns);
  try {
    const perConn = Math.ceil(calls / conns);
    const drive = (n: number) => Promise.all(all.map((c) => pipeline(c, frames, n)));
    await drive(Math.ceil(warmup / conns));
    const window = await measureWindow(run.serverPid, async () => {
      await drive(perConn);
      return perConn * conns;
    });
    return { workload: "pipelined", framing: run.framing, ...window };
  } finally {
    for (const c of all) c.close();
  }
}

async function sequential(run: Run): Promise<Measurement> {
  const calls = numberFlag(run.flags, "calls", 10_000);
  const warmup = numberFlag(run.flags, "warmup", 2_000);
  const bytes = request(0, "add", [1, 2], run.framing);
  const outstanding = new Uint8Array(1);
  const [conn] = await openAll(run, 1);
  const once = () => roundTrip(conn, bytes, () => checkAdd(conn.reader, outstanding));
  const latencies = new Float64Array(calls);
  try {
    for (let i = 0; i < warmup; i++) {
      outstanding[0] = 1;
      await once();
    }
    const window = await measureWindow(run.serverPid, async () => {
      for (let i = 0; i < calls; i++) {
        const start = performance.now();
        outstanding[0] = 1;
        await once();
        latencies[i] = (performance.now() - start) * 1000;
      }
      return calls;
    });
    latencies.sort();
    const p50Us = quantile(latencies, 0.5);
    const p99Us = quantile(latencies, 0.99);
    return { workload: "sequential", framing: run.framing, ...window, p50Us, p99Us };
  } finally {
    conn.close();
  }
}

/** 1 MiB that is not all zeros, and holds no terminator (it repeats 64 random KiB). */
function blob(): Uint8Array {
  const part = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const out = new Uint8Array(1024 * 1024);
  for (let i = 0; i < 16; i++) out.set(part, i * part.length);
  return out;
}

// Checks the length and one byte in every 4 KiB: enough to catch a shifted or truncated copy,
// cheap enough not to weigh on the client's CPU.
function checkEcho(conn: LeanConnection, sent: Uint8Array): void {
  const r = conn.reader;
  if (!r.versionOk || r.code !== 200 || r.slot !== 0 || r.result !== Result.Bin) {
    throw new Error(`bad answer to echo: code ${r.code}, slot ${r.slot}, result ${r.result}`);
  }
  if (r.binLength !== sent.length) throw new Error(`echo returned ${r.binLength} bytes`);
  for (let i = 0; i < sent.length; i += 4093) {
    if (conn.bytes[r.binAt + i] !== sent[i]) throw new Error(`echo changed byte ${i}`);
  }
}

async function echo(run: Run): Promise<Measurement> {
  const calls = numberFlag(run.flags, "calls", 60);
  const warmup = numberFlag(run.flags, "warmup", 5);
  const data = blob();
  const bytes = request(0, "echo", [data], run.framing);
  const [conn] = await openAll(run, 1);
  const once = () => roundTrip(conn, bytes, () => checkEcho(conn, data));
  try {
    for (let i = 0; i < warmup; i++) await once();
    const window = await measureWindow(run.serverPid, async () => {
      for (let i = 0; i < calls; i++) await once();
      return calls * 2;
    });
    return { workload: "echo", framing: run.framing, ...window };
  } finally {
    conn.close();
  }
}

/** Reads one whole stream of `items` numbers 0, 1, …: 201, each 202 in order, 206. */
async function readStream(conn: LeanConnection, items: number): Promise<void> {
  const r = conn.reader;
  const expect = (what: boolean, detail: string) => {
    if (!what || !r.versionOk || r.slot !== 0) {
      throw new Error(`bad stream answer: ${detail} (code ${r.code}, slot ${r.slot})`);
    }
  };
  let seen = -1;
  while (true) {
    while (!conn.next()) await conn.fill();
    if (seen === -1) {
      expect(r.code === 201, "expected 201");
      seen = 0;
    } else if (r.code === 202) {
      expect(r.result === Result.Int && r.int === seen, `item ${seen} is ${r.int}`);
      seen++;
    } else {
      expect(r.code === 206 && seen === items, `ended after ${seen} of ${items} items`);
      return;
    }
  }
}

async function stream(run: Run): Promise<Measurement> {
  const items = numberFlag(run.flags, "items", 100_000);
  const warmup = numberFlag(run.flags, "warmup", 20_000);
  const [conn] = await openAll(run, 1);
  const call = (n: number) => conn.write(request(0, "stream", [n], run.framing));
  try {
    await call(warmup);
    await readStream(conn, warmup);
    const window = await measureWindow(run.serverPid, async () => {
      await call(items);
      await readStream(conn, items);
      return items;
    });
    return { workload: "stream", framing: run.framing, ...window };
  } finally {
    conn.close();
  }
}

/** Opens `conns` connections, `batch` logins at a time, so the listener's backlog never fills. */
async function openMany(run: Run, conns: number, batch: number): Promise<LeanConnection[]> {
  const all: LeanConnection[] = [];
  for (let i = 0; i < conns; i += batch) {
    all.push(...await openAll(run, Math.min(batch, conns - i)));
  }
  return all;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function idle(run: Run): Promise<Measurement> {
  const conns = numberFlag(run.flags, "conns", 5_000);
  const settleMs = numberFlag(run.flags, "settle-ms", 1_000);
  if (run.serverPid === undefined) throw new Error("the idle workload needs --server-pid");
  // One connection first, so that the server's code for a connection is loaded and compiled.
  const [first] = await openAll(run, 1);
  await sleep(settleMs);
  const before = residentBytes(run.serverPid)!;
  let all: LeanConnection[] = [];
  try {
    const window = await measureWindow(run.serverPid, async () => {
      all = await openMany(run, conns, 100);
      return conns;
    });
    await sleep(settleMs);
    const after = residentBytes(run.serverPid)!;
    const rssBytesPerConnection = (after - before) / conns;
    return { workload: "idle", framing: run.framing, ...window, rssBytesPerConnection };
  } finally {
    first.close();
    for (const c of all) c.close();
  }
}

const WORKLOADS: Record<string, (run: Run) => Promise<Measurement>> = {
  pipelined,
  sequential,
  echo,
  stream,
  idle,
};

async function main(args: string[]): Promise<void> {
  const flags = parseFlags(args);
  const framing = flags.get("framing") ?? "0.1";
  if (framing !== "0.1" && framing !== "len32") throw new Error("--framing is 0.1 or len32");
  const name = flags.get("workload") ?? "pipelined";
  const workload = WORKLOADS[name];
  if (!workload) throw new Error(`no workload '${name}': ${Object.keys(WORKLOADS).join(", ")}`);
  const port = numberFlag(flags, "port", NaN);
  if (!Number.isInteger(port)) throw new Error("--port is required");
  const pid = numberFlag(flags, "server-pid", NaN);
  const serverPid = Number.isInteger(pid) ? pid : undefined;
  console.log(JSON.stringify(await workload({ port, framing, serverPid, flags })));
}

await main(runtime().args);
