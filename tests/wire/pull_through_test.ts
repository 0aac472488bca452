import assert from "node:assert/strict";
import { test } from "../test_platform.deno.ts";
import { chain, pullThrough } from "../../src/wire/pull_through.ts";
import { collect } from "../helpers.ts";

test("pullThrough: reads on past input that yields nothing, and ends with its source", async () => {
  const evens = pullThrough(ReadableStream.from([1, 3, 4, 5, 7, 9, 6]), {
    transform(n: number, output) {
      if (n % 2 === 0) output.enqueue(n);
    },
  });
  assert.deepEqual(await collect(evens), [4, 6]);
});

test("pullThrough: reads its source only when read", async () => {
  let pulled = 0;
  const source = new ReadableStream<number>({ pull: (c) => c.enqueue(pulled++) }, {
    highWaterMark: 0,
  });
  const reader = pullThrough(source, { transform: (n: number, out) => out.enqueue(n) })
    .getReader();
  assert.equal((await reader.read()).value, 0);
  // Streams move on microtasks only: by the next task, a read-ahead would have pulled again.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(pulled, 1);
  await reader.cancel();
});

test("pullThrough: a transform that throws errors the stream and cancels the source", async () => {
  let cancelled: unknown;
  const source = new ReadableStream<number>({
    pull: (c) => c.enqueue(1),
    cancel: (reason) => void (cancelled = reason),
  });
  const failure = new Error("bad input");
  const reader = pullThrough(source, {
    transform() {
      throw failure;
    },
  }).getReader();
  await assert.rejects(reader.read(), failure);
  assert.equal(cancelled, failure);
});

test("pullThrough: output enqueued outside a transform is read in order", async () => {
  let output!: { enqueue(chunk: string): void };
  const { readable, writable } = new TransformStream<string, string>();
  const reader = pullThrough(readable, {
    start: (out) => void (output = out),
    transform: (chunk, out) => out.enqueue(chunk),
  }).getReader();
  const writer = writable.getWriter();
  void writer.write("a");
  assert.equal((await reader.read()).value, "a");
  const next = reader.read();
  output.enqueue("b");
  assert.equal((await next).value, "b");
  void writer.write("c");
  assert.equal((await reader.read()).value, "c");
  await writer.close();
  assert.equal((await reader.read()).done, true);
});

test("chain: an asynchronous second stage keeps the order, also of output put out outside a transform", async () => {
  let early!: { enqueue(chunk: number): void };
  const { readable, writable } = new TransformStream<number, number>();
  const stages = chain<number, number, string>(
    { start: (out) => void (early = out), transform: (n, out) => out.enqueue(n) },
    {
      // Later chunks finish first unless they wait their turn.
      async transform(n, out) {
        for (let i = 0; i < 10 - n; i++) await Promise.resolve();
        out.enqueue(`#${n}`);
      },
    },
  );
  const reader = pullThrough(readable, stages).getReader();
  const writer = writable.getWriter();
  void writer.write(1);
  assert.equal((await reader.read()).value, "#1");
  // Put out between transforms (as a splitter re-reads buffered bytes), then a chunk that
  // would finish first.
  early.enqueue(2);
  early.enqueue(3);
  void writer.write(4);
  const got = [(await reader.read()).value, (await reader.read()).value];
  assert.deepEqual([...got, (await reader.read()).value], ["#2", "#3", "#4"]);
  await writer.close();
  assert.equal((await reader.read()).done, true);
});

test("chain: a failure of the second stage outside a transform errors the stream", async () => {
  let early!: { enqueue(chunk: number): void };
  const failure = new Error("bad payload");
  const reader = pullThrough(
    new ReadableStream<number>({ pull() {} }), // no bytes ever come: only the early chunk
    chain<number, number, number>(
      { start: (out) => void (early = out), transform: (n, out) => out.enqueue(n) },
      { transform: () => Promise.reject(failure) },
    ),
  ).getReader();
  const read = reader.read();
  early.enqueue(1);
  await assert.rejects(read, failure);
});
