/**
 * Serves the API of examples/api.ts: `deno run --allow-net --allow-env examples/api_server.ts`.
 * Its first line of output is its address. `PORT` picks the port (default 5000, 0 for any free
 * one).
 *
 * @module
 */
import { Server } from "../server.ts";
import { api } from "./api.ts";

const server = new Server({ hostname: "127.0.0.1", port: Number(Deno.env.get("PORT") ?? 5000) });
server.registerIntrospectionFunctions();
server.registerInstance(api); // add, count, text.upper, text.words
await server.listen();
console.log(`tcp://admin:admin@127.0.0.1:${server.addr.port}`);
await server.runForever();
