/** A Deno client for the cross-runtime test: calls the server at `Deno.args[0]`, prints JSON. */
import { AsyncRPC, NotFindError } from "../../../mod.ts";

await using rpc = await AsyncRPC.connect(Deno.args[0]);
const items = [];
for await (const item of await rpc.range(3)) items.push(item);
const missing = await rpc.nope().catch((err: unknown) => err instanceof NotFindError);
console.log(JSON.stringify({
  runtime: rpc.remoteInfo?.DESC,
  testfunc: await rpc.testfunc(5, 4),
  kwargs: await rpc.call("testfunc", [], { a: 1, b: 2 }),
  items,
  missing,
}));
