/**
 * What a call produced, as the serving side holds it before it goes on the wire.
 *
 * @module
 */

/** One value, or a stream of items. */
export type Answer = { value: unknown } | { stream: AsyncIterable<unknown> };

/** Whether a handler's result is a stream of items (an async generator's, say). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
