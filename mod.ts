/**
 * mprpc: MPRPC, the MessagePack RPC protocol of the Python library pymprpc, for Deno and Node.
 * Wire-compatible with pymprpc servers and clients in both directions.
 *
 * @example A server and a client
 * ```ts
 * import assert from "node:assert/strict";
 * import { AsyncRPC, Server } from "mprpc";
 *
 * await using server = new Server({ port: 0 });
 * server.registerIntrospectionFunctions();
 * server.registerFunction(function testfunc(a: number, b: number) {
 *   return a + b;
 * });
 * server.registerFunction(async function* testcorogen(a: number, b: number) {
 *   for (let i = a; i < b; i++) yield i;
 * });
 * await server.listen();
 *
 * await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
 * assert.equal(await rpc.testfunc(5, 4), 9);
 * assert.equal(await rpc.call("testfunc", [], { a: 1, b: 2 }), 3);
 * const items = [];
 * for await (const item of await rpc.testcorogen(0, 3)) items.push(item);
 * assert.deepEqual(items, [0, 1, 2]);
 * ```
 *
 * @module
 */
export { Broker, type BrokerOptions, type MemberInfo, type MemberLoad } from "./broker.ts";
export {
  type BrokerMembership,
  type CallContext,
  callContext,
  consoleLogger,
  type Credential,
  type Handler,
  type InstanceOptions,
  type LogFields,
  type Logger,
  type MethodOptions,
  type Middleware,
  type MiddlewareContext,
  type ModuleOptions,
  type PeerCertificate,
  runInCall,
  Server,
  type ServerOptions,
  type TlsServerOptions,
} from "./server.ts";
export {
  type ApiValue,
  type AsyncApi,
  type AsyncResult,
  AsyncRPC,
  type AsyncRPCClient,
  type AttributeName,
  type CallOptions,
  type ClientMiddleware,
  type ClientMiddlewareContext,
  type ClientOptions,
  type DisconnectDetail,
  type MethodArgs,
  type MethodName,
  type MethodOf,
  type ReconnectDetail,
  type ReconnectOptions,
  type Remote,
  type RemoteMethod,
  type RemoteView,
  RPC,
  type RPCClient,
  type SyncApi,
  type SyncCallOptions,
  type SyncClientMiddleware,
  type SyncClientMiddlewareContext,
  type SyncRemote,
  type SyncRemoteMethod,
  type SyncRemoteView,
  type SyncResult,
  type SystemApi,
  type TlsClientOptions,
  type WithSystem,
} from "./client.ts";
export {
  ConnectionLostError,
  ExpireStreamWarning,
  ExpireWarning,
  LoginError,
  MprpcError,
  type MprpcErrorInit,
  NotFindError,
  ParamError,
  ProtocolException,
  ProtocolSyntaxException,
  RequestError,
  RequirementException,
  RestrictAccessError,
  ResultLimitError,
  RpcException,
  RPCRuntimeError,
  RpcUnavailableException,
  TimeoutException,
  UnsupportSysMethodError,
} from "./src/protocol/errors.ts";
export {
  Code,
  type Compression,
  type ErrorData,
  type HandshakeReply,
  TERMINATOR,
  VERSION,
} from "./src/protocol/messages.ts";
