/**
 * What a call produced, as the serving side holds it before it goes on the wire.
 *
 * @module
 */

/** One value, or a stream of items. */
export type Answer = { value: unknown } | { stream: AsyncIterable<unknown> };
