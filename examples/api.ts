/**
 * An API as a plain object: examples/api_server.ts serves it, and examples/api_client.ts calls it
 * typed, importing nothing of this module but its type (`import type { Api } from "./api.ts"`),
 * so none of this code, nor the server's, goes into the client.
 *
 * @module
 */

/** The implementation: what `server.registerInstance(api)` serves. */
export const api = {
  add(a: number, b: number): number {
    return a + b;
  },
  async *count(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i;
  },
  text: {
    upper(s: string): string {
      return s.toUpperCase();
    },
    // A promise: the client gets what it resolves to.
    words(s: string): Promise<string[]> {
      return Promise.resolve(s.split(/\s+/).filter(Boolean));
    },
  },
};

/** The API's type: all a typed client needs of this module. */
export type Api = typeof api;
