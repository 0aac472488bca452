/**
 * N server processes behind one broker, on one machine (`deno task cluster`): a broker on
 * 127.0.0.1:7000 (`BROKER_PORT`; 0 lets the OS choose) and one examples/serve.ts process per core
 * (`SERVERS`), each on a port of its own, joined to the broker. Clients use
 * `broker://admin:admin@127.0.0.1:7000`. SIGINT or SIGTERM stops it all: each server leaves the
 * broker, lets its running calls finish and exits, then the broker closes.
 *
 * @module
 */
import { Broker } from "../mod.ts";

const count = Number(Deno.env.get("SERVERS") ?? navigator.hardwareConcurrency);
const secret = Deno.env.get("MPRPC_BROKER_SECRET") ?? crypto.randomUUID();
let joined = 0;
const allJoined = Promise.withResolvers<void>();
const broker = new Broker({
  port: Number(Deno.env.get("BROKER_PORT") ?? 7000),
  secret,
  logger: {
    info(event, fields) {
      console.info(`[broker] ${event}`, fields);
      if (event === "member joined" && ++joined === count) allJoined.resolve();
    },
    warn: (event, fields) => console.warn(`[broker] ${event}`, fields),
    error: (event, fields) => console.error(`[broker] ${event}`, fields),
  },
});
await broker.listen();

const serve = new URL("./serve.ts", import.meta.url).pathname;
const servers = Array.from({ length: count }, () =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-ffi", serve],
    env: { PORT: "0", BROKER: `tcp://127.0.0.1:${broker.addr.port}`, MPRPC_BROKER_SECRET: secret },
    stdout: "null",
  }).spawn());

const stop = Promise.withResolvers<void>();
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, stop.resolve);
await Promise.race([allJoined.promise, stop.promise]);
console.log(
  `mprpc cluster: ${count} servers behind broker://admin:admin@127.0.0.1:${broker.addr.port}`,
);
await stop.promise;
for (const server of servers) server.kill("SIGTERM");
await Promise.all(servers.map((server) => server.status));
await broker.close();
Deno.exit(0); // the signal listeners would keep the process alive
