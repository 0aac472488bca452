/**
 * The client half of mprpc: {@linkcode AsyncRPC} (promises) and {@linkcode RPC} (blocking), and
 * the types that type their calls by the server's API (`AsyncRPC.connect<typeof api>(url)`).
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
export type {
  ApiValue,
  AsyncApi,
  AsyncResult,
  AttributeName,
  MethodArgs,
  MethodName,
  MethodOf,
  SyncApi,
  SyncResult,
  SystemApi,
  WithSystem,
} from "./src/client/typed_api.ts";
export {
  RPC,
  type RPCClient,
  type SyncCallOptions,
  type SyncClientMiddleware,
  type SyncClientMiddlewareContext,
  type SyncRemote,
  type SyncRemoteMethod,
  type SyncRemoteView,
} from "./src/client/sync_client.ts";
