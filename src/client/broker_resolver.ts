/**
 * Asking brokers for a server: MPRPC 0.1's exchange (`AUTH` → `50` with a URL), tried on each
 * broker of a `broker://` address in turn.
 *
 * @module
 */
import { type BrokerAddress, parseAddress, type ServerAddress } from "../protocol/address.ts";
import { LoginError, type MprpcError, RpcUnavailableException } from "../protocol/errors.ts";
import { Code, isMap, type Message, VERSION } from "../protocol/messages.ts";
import type { Codec } from "../wire/codec.ts";
import type { Connection } from "../wire/connection.ts";
import { type ClientOptions, dial } from "./client_session.ts";

/**
 * Asks each broker of `address` in turn, from the one at index `first` on, for a server.
 * Resolves to the first one named, with the credentials to present there, and the index of the
 * broker that named it. Rejects with `LoginError` if every broker that answered refused the
 * credentials, else with `RpcUnavailableException` saying what each broker did.
 */
export async function askBrokers(
  address: BrokerAddress,
  first: number,
  options: ClientOptions,
  codec: Codec,
): Promise<[ServerAddress, number]> {
  const failures: string[] = [];
  let refused: MprpcError | undefined;
  const { brokers } = address;
  for (let i = 0; i < brokers.length; i++) {
    const at = (first + i) % brokers.length;
    const broker = brokers[at];
    const where = `${broker.hostname}:${broker.port}`;
    try {
      const to = { ...broker, tls: address.tls };
      const [conn, url] = await dial(to, options, codec, (conn) => ask(conn, address));
      conn.abort(); // the broker closes it too: its part is done
      return [url, at];
    } catch (err) {
      if (err instanceof LoginError) refused = err;
      failures.push(`${where}: ${err instanceof Error ? err.message : err}`);
    }
  }
  if (refused && failures.length === 1) throw refused;
  const message = `no broker named a server (${failures.join("; ")})`;
  throw refused
    ? new LoginError(message, { cause: refused })
    : new RpcUnavailableException(message);
}

// Sends the plain 0.1 AUTH (no EXT: the broker must name a server, not serve this client) and
// reads the answer.
async function ask(conn: Connection, address: BrokerAddress): Promise<ServerAddress> {
  const reader = conn.messages.getReader();
  await conn.send({
    MPRPC: VERSION,
    AUTH: { USERNAME: address.username, PASSWORD: address.password },
  });
  const reply: unknown = (await reader.read()).value?.messages[0];
  reader.releaseLock();
  if (!isMap(reply)) throw new RpcUnavailableException("the broker closed the connection");
  return answer(reply);
}

function answer(reply: Message): ServerAddress {
  const why = typeof reply.MESSAGE === "string" ? reply.MESSAGE : `code ${reply.CODE}`;
  switch (reply.CODE) {
    case Code.BROKER_URL:
      try {
        return parseAddress(String(reply.URL));
      } catch {
        throw new RpcUnavailableException(
          `the broker named no valid server: ${JSON.stringify(reply.URL)}`,
        );
      }
    case Code.BROKER_REFUSED:
      throw new LoginError(`the broker refused: ${why}`);
    case Code.BROKER_NO_SERVER:
      throw new RpcUnavailableException(`the broker has no server: ${why}`);
    default:
      throw new RpcUnavailableException(`not a broker's answer: ${JSON.stringify(reply)}`);
  }
}
