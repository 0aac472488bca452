/**
 * The baseline: the least a server can do and still answer the load tool. It frames and
 * msgpack-decodes/encodes, with no streams API, dispatch, validation or bookkeeping: one read
 * loop per connection, answers to everything in a read written back in one write. Prints its port.
 * Raw TCP comes from the test platform, so the same baseline runs on Deno and Node.
 */
import { Decoder, Encoder } from "../../deps.ts";
import { listenTcp } from "../../tests/test_platform.deno.ts";
import type { TcpConnection } from "../../tests/test_platform.ts";

const TERM = new TextEncoder().encode("##PRO-END##");
const encoder = new Encoder();
const decoder = new Decoder();
const HANDSHAKE = {
  MPRPC: "0.1",
  CODE: 100,
  VERSION: null,
  DESC: null,
  DEBUG: false,
  COMPRESER: null,
  TIMEOUT: 0,
};

function find(bytes: Uint8Array, from: number): number {
  for (
    let i = bytes.indexOf(0x23, from);
    i !== -1 && i + 11 <= bytes.length;
    i = bytes.indexOf(0x23, i + 1)
  ) {
    let k = 0;
    while (k < 11 && bytes[i + k] === TERM[k]) k++;
    if (k === 11) return i;
  }
  return -1;
}

function answer(message: Record<string, unknown>, out: Uint8Array[]): void {
  const push = (m: unknown) => void out.push(encoder.encode(m), TERM);
  if (message.AUTH) return push(HANDSHAKE);
  const ID = message.ID;
  const args = message.ARGS as unknown[];
  if (message.METHOD === "stream") {
    push({ MPRPC: "0.1", CODE: 201, MESSAGE: { ID } });
    for (let i = 0; i < (args[0] as number); i++) {
      push({ MPRPC: "0.1", CODE: 202, MESSAGE: { ID, RESULT: i } });
    }
    return push({ MPRPC: "0.1", CODE: 206, MESSAGE: { ID } });
  }
  push({ MPRPC: "0.1", CODE: 200, MESSAGE: { ID, RESULT: args[0] } });
}

async function serve(conn: TcpConnection): Promise<void> {
  let pending = new Uint8Array(0);
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      const bytes = new Uint8Array(pending.length + n);
      bytes.set(pending);
      bytes.set(buffer.subarray(0, n), pending.length);
      const out: Uint8Array[] = [];
      let start = 0;
      for (let at = find(bytes, start); at !== -1; at = find(bytes, start)) {
        answer(decoder.decode(bytes.subarray(start, at)) as Record<string, unknown>, out);
        start = at + TERM.length;
      }
      pending = bytes.slice(start);
      const size = out.reduce((sum, part) => sum + part.length, 0);
      const reply = new Uint8Array(size);
      let at = 0;
      for (const part of out) reply.set(part, at), at += part.length;
      await conn.write(reply);
    }
  } catch {
    // the load tool hung up
  } finally {
    conn.close();
  }
}

const listener = await listenTcp();
console.log(listener.port);
while (true) serve(await listener.accept());
