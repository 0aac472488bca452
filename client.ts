/**
 * The client half of mprpc: {@linkcode AsyncRPC} (promises) and {@linkcode RPC} (blocking).
 *
 * @module
 */
export {
  AsyncRPC,
  type AsyncRPCClient,
  type CallOptions,
  type ClientMiddleware,
  type ClientMiddlewareContext,
  type ClientOptions,
  type DisconnectDetail,
  type ReconnectDetail,
  type ReconnectOptions,
  type Remote,
  type RemoteMethod,
  type RemoteView,
} from "./src/client/async_rpc.ts";
export type { TlsClientOptions } from "./src/platform/transport.ts";
export {
  RPC,
  type RPCClient,
  type SyncCallOptions,
  type SyncRemoteMethod,
  type SyncRemoteView,
} from "./src/client/sync_client.ts";
