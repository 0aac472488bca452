/** The server for bench/pool.ts: an inline echo, and the same module inline and in the pool. */
import { Server } from "../../mod.ts";

const handlers = new URL("./pool_handlers.ts", import.meta.url);
const server = new Server({ port: 0, timeout: 0 });
server.registerModule(handlers, { prefix: "pool" });
server.registerModule(handlers, { prefix: "inline", executor: "inline" });
await server.listen();
console.log(server.addr.port);
await server.runForever();
