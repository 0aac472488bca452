/**
 * The worker behind the synchronous client `RPC`: it owns a real `AsyncRPC` (so heartbeats run
 * while the caller blocks) and answers each request through the shared channel.
 *
 * @module
 */
import { AsyncRPC, type AsyncRPCClient } from "./async_rpc.ts";
import { Encoder } from "../../deps.ts";
import { ConnectionLostError, MprpcError, RpcUnavailableException } from "../protocol/errors.ts";
import { ItemStream } from "../call/item_stream.ts";
import { parentPort } from "../platform/runtime.deno.ts";
import { writeMessage } from "./shared_channel.ts";
import type { SyncOperation, SyncReply, SyncRequest } from "./sync_messages.ts";

const port = parentPort();
const encoder = new Encoder({ ignoreUndefined: true });
const streams = new Map<number, AsyncIterator<unknown>>();
let nextStream = 0;
let channel: SharedArrayBuffer;
let rpc: AsyncRPCClient;

async function handle(request: SyncOperation): Promise<unknown> {
  switch (request.op) {
    case "connect":
      channel = request.channel;
      rpc = new AsyncRPC(request.url, request.options) as AsyncRPCClient;
      await rpc.connect();
      return rpc.remoteInfo;
    case "call": {
      const { method, args, kwargs, timeout } = request;
      const result = await rpc.call(method, args, kwargs, timeout ? { timeout } : undefined);
      if (!(result instanceof ItemStream)) return { value: result };
      streams.set(nextStream, result[Symbol.asyncIterator]());
      return { stream: nextStream++ };
    }
    case "next": {
      const stream = streams.get(request.stream);
      if (!stream) throw new RpcUnavailableException("the stream was released");
      const { done, value } = await stream.next();
      if (done) streams.delete(request.stream);
      return { done: done ?? false, value };
    }
    case "delay":
      return await rpc.delay(request.method, request.args, request.kwargs);
    case "reconnect":
      await rpc.reconnect();
      return rpc.remoteInfo;
    case "close":
      await rpc?.close();
      return null;
  }
}

function describe(err: unknown): SyncReply {
  if (err instanceof MprpcError) {
    const { code, message, id, exception, data } = err;
    const lost = err instanceof ConnectionLostError || undefined;
    return { ok: false, code, message, id, exception, data, lost };
  }
  return { ok: false, code: 500, message: String(err instanceof Error ? err.message : err) };
}

port.onMessage(async (data) => {
  const request = data as SyncRequest;
  if (request.op === "return") {
    // The caller broke out of a stream: cancel it; the items still coming are dropped.
    await streams.get(request.stream)?.return?.();
    return void streams.delete(request.stream);
  }
  let reply: SyncReply;
  try {
    reply = { ok: true, value: await handle(request) };
  } catch (err) {
    reply = describe(err);
  }
  let bytes: Uint8Array;
  try {
    bytes = encoder.encode(reply);
  } catch (err) {
    bytes = encoder.encode(describe(err));
  }
  // Numbered: if the caller gave up on this request, it drops the reply instead of misreading it.
  await writeMessage(channel, request.seq, bytes);
});
