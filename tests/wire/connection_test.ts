import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { ResultLimitError, RpcUnavailableException } from "../../mod.ts";
import { Codec } from "../../src/wire/codec.ts";
import { CallIds } from "../../src/wire/call_ids.ts";
import { Connection } from "../../src/wire/connection.ts";
import type { Socket } from "../../src/platform/transport.ts";
import { decode, encode, installFakeClock } from "../test_deps.ts";
import { concat, deferred, TERM } from "../helpers.ts";

// An in-memory socket: `incoming` feeds the connection, `writes` records what it wrote (copies: a
// socket's writer may reuse a buffer once its write is done).
function memorySocket() {
  const writes: Uint8Array[] = [];
  let wrote!: () => void;
  let nextWrite = new Promise<void>((resolve) => wrote = resolve);
  let feed!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  const socket: Socket = {
    readable: new ReadableStream({ start: (controller) => void (feed = controller) }),
    writable: new WritableStream({
      write(chunk) {
        writes.push(chunk.slice());
        wrote();
        nextWrite = new Promise<void>((resolve) => wrote = resolve);
      },
    }),
    remoteAddress: "memory:0",
    close: () => {
      if (!closed) feed.close();
      closed = true;
    },
  };
  return {
    socket,
    writes,
    feed: (bytes: Uint8Array) => feed.enqueue(bytes),
    nextWrite: () => nextWrite,
  };
}

function frames(bytes: Uint8Array): unknown[] {
  const out = [];
  let start = 0;
  for (let i = 0; i + TERM.length <= bytes.length; i++) {
    if (TERM.every((b, k) => bytes[i + k] === b)) {
      out.push(decode(bytes.subarray(start, i)));
      start = i + TERM.length;
      i = start - 1;
    }
  }
  assert.equal(start, bytes.length, "the write ends on a frame boundary");
  return out;
}

test("connection: messages sent in one turn leave in one socket write", async () => {
  const memory = memorySocket();
  const conn = new Connection(memory.socket, await Codec.create());
  const written = memory.nextWrite();
  for (let i = 0; i < 100; i++) conn.send({ MPRPC: "0.1", N: i });
  await written;
  assert.equal(memory.writes.length, 1);
  assert.deepEqual(
    frames(memory.writes[0]),
    Array.from({ length: 100 }, (_, i) => ({ MPRPC: "0.1", N: i })),
  );
  await conn.close();
});

test("connection: a burst past 8 KiB in one turn starts its first write before the turn ends", async () => {
  const memory = memorySocket();
  const conn = new Connection(memory.socket, await Codec.create());
  const burst = Array.from(
    { length: 1000 },
    (_, i) => ({ MPRPC: "0.1", N: i, PAD: "x".repeat(8) }),
  );
  let writesDuringTurn = 0;
  for (const [i, message] of burst.entries()) {
    conn.send(message);
    if (i === 499) writesDuringTurn = memory.writes.length; // about 15 KB queued by now
  }
  assert.equal(writesDuringTurn, 1, "the peer gets the first frames while the rest are made");
  assert.equal(memory.writes.length, 1, "one early write a turn");
  const rest = memory.nextWrite();
  await rest;
  assert.equal(memory.writes.length, 2);
  assert.deepEqual(memory.writes.flatMap(frames), burst);
  await conn.close();
});

// A slow socket: a write stays in flight until released, and its bytes are read only then. It
// counts the writes handed to its writer and not yet done (the stream queues them), and the most
// there were at once.
function slowSocket() {
  const inFlight: (() => void)[] = [];
  const written: Uint8Array[] = [];
  let unfinished = 0;
  let most = 0;
  let closedWith = -1; // writes unfinished when the socket was closed
  const stream = new WritableStream<Uint8Array>({
    write: (chunk) =>
      new Promise<void>((done) => {
        const slot = written.push(new Uint8Array(0)) - 1;
        inFlight.push(() => (written[slot] = chunk.slice(), done()));
      }),
  });
  const writable = {
    getWriter() {
      const writer = stream.getWriter();
      return {
        write(chunk: Uint8Array) {
          most = Math.max(most, ++unfinished);
          return writer.write(chunk).finally(() => unfinished--);
        },
      };
    },
  } as unknown as WritableStream<Uint8Array>;
  const socket: Socket = {
    readable: new ReadableStream(),
    writable,
    remoteAddress: "memory:0",
    close: () => void (closedWith = closedWith === -1 ? unfinished : closedWith),
  };
  const release = () => inFlight.shift()?.();
  return { socket, written, release, inFlight, most: () => most, closedWith: () => closedWith };
}

test("connection: an early write and the carrier's never overlap, and close waits for both", async () => {
  const slow = slowSocket();
  const conn = new Connection(slow.socket, await Codec.create());
  const sent: unknown[] = [];
  const send = () => {
    const message = { MPRPC: "0.1", N: sent.length, PAD: "x".repeat(20) };
    sent.push(message);
    conn.send(message);
  };
  for (let i = 0; i < 300; i++) send(); // past 8 KiB: an early write
  await new Promise((resolve) => setTimeout(resolve, 0));
  for (let i = 0; i < 300; i++) send(); // queued behind it
  // Twice: a write ends, and answers come one turn after another while the carrier resumes, so
  // that another early write starts in between.
  for (let round = 0; round < 2; round++) {
    slow.release();
    for (let i = 0; i < 50; i++) send(), send(), await Promise.resolve();
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
  const closing = conn.close();
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.equal(slow.closedWith(), -1, "not closed while a write is in flight");
  while (slow.inFlight.length > 0) {
    slow.release();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await closing;
  assert.equal(slow.closedWith(), 0);
  assert.equal(slow.most(), 1, "one write in flight at a time");
  assert.deepEqual(slow.written.flatMap(frames), sent);
});

test("connection: close sends a message still compressing when it was called", async () => {
  const memory = memorySocket();
  const codec = await Codec.create({ compression: "zlib" });
  const conn = new Connection(memory.socket, codec);
  const sending = conn.send({ MPRPC: "0.1", N: 1 }); // not awaited: close comes first
  await conn.close();
  await sending;
  const received = new Connection(
    { ...memorySocket().socket, readable: ReadableStream.from(memory.writes) },
    codec,
  );
  const { value } = await received.messages.getReader().read();
  assert.deepEqual(value?.messages, [{ MPRPC: "0.1", N: 1 }]);
  assert.throws(() => conn.send({ MPRPC: "0.1", N: 2 }), RpcUnavailableException);
});

test("connection: close with a grace period cuts off a peer that takes nothing", async () => {
  const clock = installFakeClock({ toFake: ["setTimeout", "clearTimeout"] });
  try {
    const slow = slowSocket();
    const conn = new Connection(slow.socket, await Codec.create());
    conn.send({ MPRPC: "0.1", N: 1 }); // its write never ends
    await clock.tickAsync(0);
    let closed = false;
    const closing = conn.close(2000).then(() => closed = true);
    await clock.tickAsync(1999);
    assert.equal(closed, false, "the peer gets its grace period");
    await clock.tickAsync(1);
    await closing;
    assert.equal(slow.closedWith(), 1, "closed with the write still unfinished: cut off");
    assert.equal(conn.open, false);
  } finally {
    clock.uninstall();
  }
});

test("connection: a big write goes 4 MiB at a time, each part's end restarting the idle clock", async () => {
  const clock = installFakeClock({ toFake: ["Date"] });
  try {
    const slow = slowSocket();
    const conn = new Connection(slow.socket, await Codec.create());
    const message = { MPRPC: "0.1", DATA: new Uint8Array(9 * 1024 * 1024).fill(7) };
    conn.send(message);
    // The turns a part's end takes to reach the connection, and the next part the socket.
    const settle = async () => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
    };
    await settle();
    const stamps: number[] = [];
    while (slow.inFlight.length > 0) {
      clock.tick(1000); // a slow peer: a second a part
      slow.release();
      await settle();
      stamps.push(conn.lastWrite);
    }
    const parts = slow.written.map((part) => part.length);
    assert.deepEqual(parts.slice(0, 2), [4 * 1024 * 1024, 4 * 1024 * 1024]);
    assert.equal(parts.length, 3);
    assert.deepEqual(stamps, [1000, 2000, 3000], "each part's end is a write");
    assert.equal(conn.writing, false);
    assert.deepEqual(frames(concat(slow.written)), [message]);
    await conn.close();
  } finally {
    clock.uninstall();
  }
});

test("connection: inbound bytes come out as batches of decoded messages", async () => {
  const memory = memorySocket();
  const conn = new Connection(memory.socket, await Codec.create());
  const frame = (m: unknown) => [...encode(m), ...TERM];
  memory.feed(new Uint8Array([...frame({ A: 1 }), ...frame({ B: 2 })]));
  const reader = conn.messages.getReader();
  const { messages, sizes } = (await reader.read()).value!;
  assert.deepEqual(messages, [{ A: 1 }, { B: 2 }]);
  assert.deepEqual(sizes, [encode({ A: 1 }).length, encode({ B: 2 }).length]);
  reader.releaseLock();
  await conn.close();
});

test("connection: an unframable message throws and sends nothing; a closed one refuses", async () => {
  const memory = memorySocket();
  const conn = new Connection(memory.socket, await Codec.create());
  assert.throws(() => conn.send({ X: "a##PRO-END##b" }), ResultLimitError);
  assert.throws(() => conn.send({ X: 1n << 70n }), ResultLimitError);
  await conn.close();
  assert.equal(memory.writes.length, 0);
  assert.throws(() => conn.send({ X: 1 }), RpcUnavailableException);
});

test("connection: a call leaves as its whole message; one holding the terminator throws", async () => {
  const memory = memorySocket();
  const codec = await Codec.create();
  const conn = new Connection(memory.socket, codec, { callIds: new CallIds("c.") });
  const call = { key: 1, method: "f", args: [1, "x"], kwargs: { k: 2 }, deadline: 5, credit: 64 };
  const written = memory.nextWrite();
  conn.sendCall(call);
  conn.sendCall({ key: 2, method: "g", args: [], kwargs: {} });
  // Wherever the terminator is, the call is refused and nothing is queued.
  const tricky = "a##PRO-END##b";
  const trickyIds = new CallIds(`${tricky}.`);
  const other = new Connection(memorySocket().socket, codec, { callIds: trickyIds });
  assert.throws(() => other.sendCall(call), ResultLimitError);
  other.abort();
  // A connection made without call IDs sends no calls.
  const plain = new Connection(memorySocket().socket, codec);
  assert.throws(() => plain.sendCall(call), TypeError);
  plain.abort();
  for (
    const bad of [
      { ...call, method: tricky },
      { ...call, args: [tricky] },
      { ...call, kwargs: { [tricky]: 1 } },
      { ...call, kwargs: { k: tricky } },
    ]
  ) assert.throws(() => conn.sendCall(bad), ResultLimitError);
  assert.throws(() => conn.sendCall({ ...call, args: [1n << 70n] }), ResultLimitError);
  await written;
  assert.deepEqual(frames(memory.writes[0]), [
    {
      MPRPC: "0.1",
      ID: "c.1",
      METHOD: "f",
      RETURN: true,
      ARGS: [1, "x"],
      KWARGS: { k: 2 },
      DEADLINE: 5,
      CREDIT: 64,
    },
    { MPRPC: "0.1", ID: "c.2", METHOD: "g", RETURN: true, ARGS: [] },
  ]);
  await conn.close();
  assert.throws(() => conn.sendCall(call), RpcUnavailableException);
});

test("connection: compressed messages leave in the order they were sent, whichever compresses first", async () => {
  const memory = memorySocket();
  // lzma compresses on the thread pool (a native addon), in Deno as in Node.
  const codec = await Codec.create({ compression: "lzma" });
  const conn = new Connection(memory.socket, codec);
  // A big incompressible message takes far longer to compress than the small one behind it.
  const data = new Uint8Array(1 << 20);
  for (let at = 0; at < data.length; at += 65536) {
    crypto.getRandomValues(data.subarray(at, at + 65536));
  }
  const big = { MPRPC: "0.1", N: 0, DATA: data };
  const small = Array.from({ length: 10 }, (_, i) => ({ MPRPC: "0.1", N: i + 1 }));
  const sent = [conn.send(big), ...small.map((message) => conn.send(message))];
  await Promise.all(sent);
  const received = new Connection(
    { ...memorySocket().socket, readable: ReadableStream.from(memory.writes) },
    codec,
  );
  const order: unknown[] = [];
  for await (const batch of received.messages) {
    order.push(...batch.messages.map((m) => (m as { N: number }).N));
    if (order.length === 11) break;
  }
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

// A socket whose writes stay in flight until settled; each keeps its chunk and a copy of it.
function heldSocket() {
  const held: {
    chunk: Uint8Array;
    copy: Uint8Array;
    done: () => void;
    fail: (err: Error) => void;
  }[] = [];
  let started = deferred();
  const closed = deferred();
  const socket: Socket = {
    readable: new ReadableStream(),
    writable: new WritableStream({
      write: (chunk) =>
        new Promise<void>((done, fail) => {
          held.push({ chunk, copy: chunk.slice(), done, fail });
          started.resolve();
        }),
    }),
    remoteAddress: "memory:0",
    close: () => closed.resolve(),
  };
  const nextWrite = async () => {
    await started.promise;
    started = deferred();
    return held[held.length - 1];
  };
  return { socket, nextWrite, closed: closed.promise };
}

// A message that is mostly `size` bytes of `fill`: big enough that its buffer is pooled.
function blob(fill: number, size = 200_000) {
  return { MPRPC: "0.1", BLOB: new Uint8Array(size).fill(fill) };
}

test("connection: a big write buffer is lent again once its write is over, never before", async () => {
  const { socket, nextWrite } = heldSocket();
  const conn = new Connection(socket, await Codec.create());
  conn.send(blob(1));
  const first = await nextWrite();
  conn.send(blob(2)); // framed while the first write is in flight
  first.done();
  const second = await nextWrite();
  assert.deepEqual(first.chunk, first.copy, "the first write's bytes stayed as they were");
  conn.send(blob(3)); // framed while the second write is in flight, the first one over
  second.done();
  const third = await nextWrite();
  assert.deepEqual(second.chunk, second.copy, "the second write's bytes stayed as they were");
  assert.equal(third.chunk.buffer, first.chunk.buffer, "the first write's buffer, lent again");
  assert.deepEqual([frames(second.chunk), frames(third.chunk)], [[blob(2)], [blob(3)]]);
  third.done();
  await conn.close();
});

test("connection: the buffer of a big write that failed is never lent to another connection", async () => {
  const codec = await Codec.create();
  const broken = heldSocket();
  const gone = new Connection(broken.socket, codec);
  gone.send(blob(1));
  const failed = await broken.nextWrite();
  failed.fail(new Error("the peer vanished mid-write"));
  await broken.closed; // the failed write aborted the connection
  assert.equal(gone.open, false);
  const healthy = heldSocket();
  const other = new Connection(healthy.socket, codec);
  other.send(blob(2));
  const written = await healthy.nextWrite();
  assert.notEqual(written.chunk.buffer, failed.chunk.buffer);
  assert.deepEqual(failed.chunk, failed.copy);
  written.done();
  await other.close();
});

test("connection: frames that outgrow their buffer while a write is in flight leave whole, the write untouched", async () => {
  const { socket, nextWrite } = heldSocket();
  const conn = new Connection(socket, await Codec.create());
  const small = (fill: number) => blob(fill, 50_000);
  conn.send(small(1));
  const first = await nextWrite();
  // Queued behind it: a buffer of 64 KiB, outgrown into 128 KiB and 256 KiB ones (pooled).
  const queued = [2, 3, 4, 5, 6].map(small);
  for (const message of queued) conn.send(message);
  assert.deepEqual(first.chunk, first.copy);
  first.done();
  const second = await nextWrite();
  assert.deepEqual(frames(second.chunk), queued);
  second.done();
  await conn.close();
});
