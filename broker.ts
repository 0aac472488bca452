/**
 * The broker half of mprpc: {@linkcode Broker}, which servers join and clients ask for a server
 * (`broker://` addresses).
 *
 * @module
 */
export { Broker, type BrokerOptions, type MemberInfo } from "./src/broker/broker.ts";
export type { MemberLoad } from "./src/protocol/membership.ts";
