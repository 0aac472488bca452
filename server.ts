/**
 * The server half of mprpc: {@linkcode Server}, its options, and what a handler can learn about
 * the call it is serving.
 *
 * @module
 */
export {
  type BrokerMembership,
  type Credential,
  type Handler,
  type InstanceOptions,
  type MethodOptions,
  type Middleware,
  type MiddlewareContext,
  type ModuleOptions,
  Server,
  type ServerOptions,
  type TlsServerOptions,
} from "./src/server/server.ts";
export type { PeerCertificate } from "./src/platform/transport.ts";
export { type CallContext, callContext, runInCall } from "./src/call/call_context.ts";
export { consoleLogger, type LogFields, type Logger } from "./src/util/logger.ts";
