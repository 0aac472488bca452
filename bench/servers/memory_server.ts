/** The server for bench/memory.ts: an echo and a stream of numbered strings. Prints its port. */
import { Server } from "../../mod.ts";

const server = new Server({ port: 0, timeout: 0 });
server.registerFunction(function echo(x: unknown) {
  return x;
});
// Each item starts with its index ("17:yyy…"), so the reader can check that none is lost or moved.
server.registerFunction(async function* items(n: number, size: number) {
  for (let i = 0; i < n; i++) yield `${i}:`.padEnd(size, "y");
});
await server.listen();
console.log(server.addr.port);
await server.runForever();
