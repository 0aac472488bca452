/**
 * The server for bench/soak.ts: an echo, a numbered stream, a call that waits until it is
 * cancelled, and its own memory figures. Prints its port.
 */
import process from "node:process";
import { callContext, Server } from "../../mod.ts";

const server = new Server({ port: 0, timeout: 0 });
server.registerIntrospectionFunctions();
server.registerFunction(function echo(x: unknown) {
  return x;
});
server.registerFunction(function add(a: number, b: number) {
  return a + b;
});
// `start`, `start + 1`, …: a reader can tell an item lost, moved or from another call.
server.registerFunction(async function* stream(start: number, n: number) {
  for (let i = 0; i < n; i++) yield start + i;
});
// Answers after `ms`, unless the caller cancels it first (which the soak always does).
server.registerFunction(function slow(ms: number) {
  const { signal } = callContext();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("finished"), ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve("aborted");
    }, { once: true });
  });
});
server.registerFunction(function memory() {
  return process.memoryUsage();
});
await server.listen();
console.log(server.addr.port);
await server.runForever();
