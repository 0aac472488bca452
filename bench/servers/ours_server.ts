/**
 * mprpc's own server with the methods of bench/servers/bare_server.ts, for bench/halves.ts:
 * `add(a, b)`, `echo(x)`, and `stream(n)` (an async generator of 0, 1, …, n − 1). Idle timeout
 * off, like the bare server's. Logs warnings and errors to stderr only, so that stdout holds just
 * its port, then its pid, one a line.
 *
 * @module
 */
import process from "node:process";
import { Server } from "../../mod.ts";

const server = new Server({
  hostname: "127.0.0.1",
  port: 0,
  timeout: 0,
  logger: {
    info() {},
    warn: (event, fields) => console.error(`[ours] ${event}`, fields),
    error: (event, fields) => console.error(`[ours] ${event}`, fields),
  },
});
server.registerFunction(function add(a: number, b: number) {
  return a + b;
});
server.registerFunction(function echo(x: unknown) {
  return x;
});
server.registerFunction(async function* stream(n: number) {
  for (let i = 0; i < n; i++) yield i;
});
await server.listen();
console.log(server.addr.port);
console.log(process.pid);
await server.runForever();
