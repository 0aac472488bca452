/**
 * A broker's member under load (bench/broker.ts): joins the broker at `BROKER_URL`
 * (`tcp://host:port`) with `SECRET`, serves `echo` and `usage` (its process's CPU time), and
 * prints its port on stdout's first line. Logs only warnings and errors, to stderr.
 */
import process from "node:process";
import { Server } from "../../mod.ts";
import { env } from "../../tests/test_platform.deno.ts";

const url = env("BROKER_URL");
const secret = env("SECRET");
if (!url || !secret) throw new Error("member_server.ts needs BROKER_URL and SECRET");

const server = new Server({
  port: 0,
  timeout: 0,
  broker: { url, secret },
  logger: {
    info() {},
    warn: (event, fields) => console.error(`[member] ${event}`, fields),
    error: (event, fields) => console.error(`[member] ${event}`, fields),
  },
});
server.registerFunction(function echo(x: unknown) {
  return x;
});
/** CPU seconds this process has used so far (user + system). */
server.registerFunction(function usage() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
});
await server.listen();
console.log(server.addr.port);
await server.runForever();
