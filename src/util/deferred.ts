/**
 * A promise with its settle functions: `Promise.withResolvers`, which Node 20 lacks.
 *
 * @module
 */

/** A promise and the functions that settle it. */
export interface Deferred<T> {
  /** The promise. */
  promise: Promise<T>;
  /** Fulfils it. */
  resolve(value: T): void;
  /** Rejects it. */
  reject(reason: unknown): void;
}

/** Creates a {@linkcode Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
