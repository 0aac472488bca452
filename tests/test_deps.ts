// deno-lint-ignore-file no-import-prefix -- test-only dependencies, pinned like deps.ts
/** Dependencies used only by tests. */
export { decode, encode } from "npm:@msgpack/msgpack@^3.1.3";
export { install as installFakeClock } from "npm:@sinonjs/fake-timers@^15";
