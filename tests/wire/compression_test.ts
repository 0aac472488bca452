/**
 * Decompression is bounded while it runs: a small payload that inflates far past
 * `maxMessageSize` (a decompression bomb) is refused with 505 as soon as the output passes the
 * limit. The bombs are made at test time by Python's streaming compressors. What a bomb costs in
 * memory is measured by bench/decompression.ts (a process's peak RSS is not readable under
 * `deno test`'s permissions).
 */
import assert from "node:assert/strict";
import { AsyncRPC, ProtocolException } from "../../mod.ts";
import type { Compression } from "../../src/protocol/messages.ts";
import { Codec } from "../../src/wire/codec.ts";
import { loadCompressor } from "../../src/wire/compression.ts";
import { concat, indexOf, startServer, TERM, urlOf } from "../helpers.ts";
import { runPython } from "../interop/python.ts";
import { connectTcp, test } from "../test_platform.deno.ts";

const MiB = 1024 * 1024;
/** What every bomb inflates to: zeros. */
const BOMB_MIB = 32;

const COMPRESSIONS = ["zlib", "bz2", "lzma"] as const;

const COMPRESSOR: Record<Compression, string> = {
  zlib: "zlib.compressobj(9)",
  bz2: "bz2.BZ2Compressor(9)",
  // The largest dictionary the xz decoder accepts (64 MiB), the worst case for its memory;
  // preset 0 keeps the compression fast.
  lzma:
    "lzma.LZMACompressor(filters=[{'id': lzma.FILTER_LZMA2, 'preset': 0, 'dict_size': 64 << 20}])",
};

const bombs = new Map<Compression, Promise<Uint8Array>>();

/**
 * BOMB_MIB MiB of zeros compressed with `compression`, a 1-MiB chunk at a time (a third of a
 * second): under 100 bytes for bz2, 5 KB for lzma, 33 KB for zlib. Made once per run.
 */
function bomb(compression: Compression): Promise<Uint8Array> {
  let made = bombs.get(compression);
  if (!made) {
    made = runPython([
      "-c",
      `import base64, bz2, lzma, sys, zlib
c = ${COMPRESSOR[compression]}
chunk = bytes(1 << 20)
out = [c.compress(chunk) for _ in range(${BOMB_MIB})]
out.append(c.flush())
sys.stdout.write(base64.b64encode(b"".join(out)).decode())`,
    ]).then((printed) => Uint8Array.from(atob(printed), (char) => char.charCodeAt(0)));
    bombs.set(compression, made);
  }
  return made;
}

/** `length` bytes that do not compress (a fixed xorshift sequence). */
function noise(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** `promise`, or a failure after `seconds` (instead of a test that hangs). */
async function within<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer in ${seconds} s`)),
      seconds * 1000,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const sizeError = (limit: number) => (err: unknown) => {
  assert.ok(err instanceof ProtocolException, `not a ProtocolException: ${err}`);
  assert.match(err.message, new RegExp(`exceeds the ${limit}-byte limit`));
  return true;
};

for (const compression of COMPRESSIONS) {
  test(`compression: a ${compression} bomb of ${BOMB_MIB} MiB is refused at maxMessageSize`, async () => {
    const codec = await Codec.create({ compression, maxMessageSize: MiB });
    await assert.rejects(Promise.resolve(codec.decode(await bomb(compression))), sizeError(MiB));
  });

  test(`compression: ${compression} stops decoding at the limit (a bomb's corrupt end is never reached)`, async () => {
    // A decoder that inflated the whole payload before checking its size would find the
    // corruption at the end first, and fail with "could not be decompressed".
    const corrupt = (await bomb(compression)).slice();
    for (let i = corrupt.length - 8; i < corrupt.length; i++) corrupt[i] ^= 0x5a;
    const codec = await Codec.create({ compression, maxMessageSize: MiB });
    await assert.rejects(Promise.resolve(codec.decode(corrupt)), sizeError(MiB));
  });

  test(`compression: ${compression} decodes a payload of exactly maxMessageSize, not one byte more`, async () => {
    // 100 KB that do not compress: many deflate slices, many xz outputs, a growing bz2 buffer.
    const message = { MPRPC: "0.1", ID: "n", METHOD: "m", ARGS: [noise(100_000)] };
    const size = ((await Codec.create()).encode(message) as Uint8Array).length;
    const payload = await (await Codec.create({ compression })).encode(message);
    const exact = await Codec.create({ compression, maxMessageSize: size });
    assert.deepEqual(await exact.decode(payload), message);
    const under = await Codec.create({ compression, maxMessageSize: size - 1 });
    await assert.rejects(Promise.resolve(under.decode(payload)), sizeError(size - 1));
  });
}

test("compression: lzma decodes in parallel, and one stopped at the limit holds up no other", async () => {
  const codec = await Codec.create({ compression: "lzma", maxMessageSize: MiB });
  const message = { MPRPC: "0.1", HEARTBEAT: "ping" };
  const payload = await codec.encode(message);
  const stopped = await bomb("lzma");
  const outcomes = await within(
    Promise.allSettled([stopped, payload, stopped, payload].map((p) => codec.decode(p))),
    30,
    "parallel lzma decodes",
  );
  assert.deepEqual(outcomes.map((o) => o.status), [
    "rejected",
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  assert.deepEqual(
    await within(Promise.resolve(codec.decode(payload)), 10, "a later decode"),
    message,
  );
});

test("compression: lzma takes the check types None, CRC32 and CRC64, dictionaries up to 64 MiB", async () => {
  const printed = await runPython([
    "-c",
    `import base64, lzma
data = b"mprpc" * 100
def xz(check, dict_size):
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 0, "dict_size": dict_size}]
    print(base64.b64encode(lzma.compress(data, check=check, filters=filters)).decode())
for check in (lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256):
    xz(check, 1 << 20)
xz(lzma.CHECK_CRC64, 64 << 20)
xz(lzma.CHECK_CRC64, 128 << 20)`,
  ]);
  const [none, crc32, crc64, sha256, dict64, dict128] = printed.trim().split("\n").map((line) =>
    Uint8Array.from(atob(line), (char) => char.charCodeAt(0))
  );
  const xz = await loadCompressor("lzma");
  const plain = new TextEncoder().encode("mprpc".repeat(100));
  for (const payload of [none, crc32, crc64, dict64]) {
    assert.deepEqual(await xz.decompress(payload, MiB), plain);
  }
  for (const payload of [sha256, dict128]) await assert.rejects(xz.decompress(payload, MiB));
  const codec = await Codec.create({ compression: "lzma" });
  await assert.rejects(Promise.resolve(codec.decode(dict128)), ProtocolException);
});

/** Every byte `port` sends after `bytes`, until it closes the connection. */
async function exchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await connectTcp(port);
  try {
    await conn.write(bytes);
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(65536);
    for (let n; (n = await conn.read(buffer)) !== null;) chunks.push(buffer.slice(0, n));
    return concat(chunks);
  } finally {
    conn.close();
  }
}

for (const compression of COMPRESSIONS) {
  test(`compression: a ${compression} server answers a bomb with 505 and serves the other connections`, async () => {
    const payload = await bomb(compression);
    assert.equal(indexOf(payload, TERM), -1, "the bomb holds the terminator");
    await using server = await startServer({ compression, maxMessageSize: MiB }, (s) => {
      s.registerFunction(function echo(x: unknown) {
        return x;
      });
    });
    await using rpc = await AsyncRPC.connect(urlOf(server), { compression });
    assert.equal(await rpc.echo("before"), "before");

    const answer = await exchange(server.addr.port, concat([payload, TERM]));
    const end = indexOf(answer, TERM);
    assert.ok(end > 0, "no answer before the connection closed");
    const codec = await Codec.create({ compression });
    assert.deepEqual(await codec.decode(answer.subarray(0, end)), { MPRPC: "0.1", CODE: 505 });

    assert.equal(await rpc.echo("after"), "after");
  });
}
