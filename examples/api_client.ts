/**
 * Calls the server of examples/api_server.ts with its API typed, importing only the API's type:
 * `deno run --allow-net examples/api_client.ts tcp://admin:admin@127.0.0.1:5000`. Prints what it
 * got as JSON.
 *
 * @module
 */
import { AsyncRPC } from "../client.ts";
import type { Api } from "./api.ts";

const url = Deno.args[0] ?? "tcp://admin:admin@127.0.0.1:5000";
await using rpc = await AsyncRPC.connect<Api>(url);
const sum: number = await rpc.add(1, 2);
const items: number[] = [];
for await (const item of await rpc.count(3)) items.push(item);
const words: string[] = await rpc.text.words("typed all the way");
const upper: string = await rpc.call("text.upper", ["mprpc"]);
const methods: string[] = await rpc.system.listMethods();
console.log(JSON.stringify({ sum, items, words, upper, methods }));
