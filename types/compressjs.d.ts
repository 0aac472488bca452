/**
 * Types for the one untyped dependency, @ledgerhq/compressjs (the part mprpc uses). Deno needs
 * none (it types the package as `any`); the npm build's strict type check includes this file.
 * The module name must match the specifier in deps.ts.
 */
declare module "npm:@ledgerhq/compressjs@^1.3.2" {
  /** bzip2. */
  export const Bzip2: {
    /** Compresses a whole buffer. */
    compressFile(data: Uint8Array): ArrayLike<number>;
    /**
     * Decodes `data` into `output`, byte by byte as it goes (a throw from `writeByte` ends the
     * decoding there); returns `output`.
     */
    decompressFile<T extends { writeByte(byte: number): void }>(data: Uint8Array, output: T): T;
  };
  const compressjs: { Bzip2: typeof Bzip2 };
  export default compressjs;
}
