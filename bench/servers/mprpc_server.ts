/** The server under load: mprpc with the load tool's methods. Prints its port. */
import { Server } from "../../mod.ts";

const server = new Server({ port: 0, timeout: 0 });
server.registerFunction(function echo(x: unknown) {
  return x;
});
server.registerFunction(async function* stream(n: number) {
  for (let i = 0; i < n; i++) yield i;
});
await server.listen();
console.log(server.addr.port);
await server.runForever();
