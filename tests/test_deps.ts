/** Dependencies used only by tests. */
export { decode, encode } from "npm:@msgpack/msgpack@^3.1.3";
export { install as installFakeClock } from "npm:@sinonjs/fake-timers@^15";
export { default as fc } from "npm:fast-check@^4";
