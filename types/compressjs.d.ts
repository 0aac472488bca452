/**
 * Types for the one untyped dependency, @ledgerhq/compressjs (the part mprpc uses). Deno needs
 * none (it types the package as `any`); the npm build's strict type check includes this file.
 * The module name must match the specifier in deps.ts.
 */
declare module "npm:@ledgerhq/compressjs@^1.3.2" {
  /** bzip2, whole buffers at a time. */
  export const Bzip2: {
    compressFile(data: Uint8Array): ArrayLike<number>;
    decompressFile(data: Uint8Array): ArrayLike<number>;
  };
  const compressjs: { Bzip2: typeof Bzip2 };
  export default compressjs;
}
