/**
 * What a decompression bomb costs a server: a payload of zeros compressed by Python (bz2, xz with
 * Python's default preset and with the largest dictionary mprpc accepts, zlib) is sent as the
 * first message to a server with that compression, in a process of its own; the table shows the
 * growth of the server's peak RSS (Linux's VmHWM), the time to its 505, and that a second,
 * well-behaved connection is still served. Linux only (it reads /proc/<pid>/status).
 *
 *   deno run -A bench/decompression.ts [--mib 400]
 *
 * Every process runs on 127.0.0.1 (port 0) and is stopped at the end.
 *
 * @module
 */
import { AsyncRPC, type Compression, Server } from "../mod.ts";
import { Codec } from "../src/wire/codec.ts";
import { concat, indexOf, TERM } from "../tests/helpers.ts";

const LOCK = `--lock=${new URL("../deno.dev.lock", import.meta.url).pathname}`;
const MiB = 1024 * 1024;

interface Bomb {
  label: string;
  compression: Compression;
  python: string;
}

const BOMBS: Bomb[] = [
  { label: "bz2", compression: "bz2", python: "bz2.BZ2Compressor(9)" },
  {
    label: "lzma (preset 6, 8 MiB dictionary)",
    compression: "lzma",
    python: "lzma.LZMACompressor()",
  },
  {
    label: "lzma (64 MiB dictionary)",
    compression: "lzma",
    python:
      "lzma.LZMACompressor(filters=[{'id': lzma.FILTER_LZMA2, 'preset': 0, 'dict_size': 64 << 20}])",
  },
  { label: "zlib", compression: "zlib", python: "zlib.compressobj(9)" },
];

const LIMITS = [64 * MiB, 1 * MiB];

/** `mib` MiB of zeros compressed by `python` (a compressor object), fed 1 MiB at a time. */
async function makeBomb(python: string, mib: number): Promise<Uint8Array> {
  const code = `import bz2, lzma, sys, zlib
c = ${python}
chunk = bytes(1 << 20)
for _ in range(${mib}):
    sys.stdout.buffer.write(c.compress(chunk))
sys.stdout.buffer.write(c.flush())`;
  const { code: status, stdout } = await new Deno.Command("/usr/bin/python3", {
    args: ["-c", code],
    stderr: "inherit",
  }).output();
  if (status !== 0) throw new Error(`python exited with ${status}`);
  return stdout;
}

/** The peak resident set of process `pid` in MiB. */
function peakMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  if (!match) throw new Error("no VmHWM in /proc/<pid>/status");
  return Number(match[1]) / 1024;
}

/** Every byte the server sends after `bytes`, until it closes the connection. */
async function exchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(bytes).catch(() => {});
  const chunks: Uint8Array[] = [];
  for await (const chunk of conn.readable) chunks.push(chunk);
  return concat(chunks);
}

async function measure(bomb: Bomb, payload: Uint8Array, limit: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      LOCK,
      "-A",
      new URL(import.meta.url).pathname,
      "--server",
      bomb.compression,
      `${limit}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const port = Number((await lines.read()).value);
    await using rpc = await AsyncRPC.connect(`tcp://admin:admin@127.0.0.1:${port}`, {
      compression: bomb.compression,
    });
    await rpc.echo("warm-up"); // loads the compression library, decodes a payload
    const before = peakMb(child.pid);
    const start = performance.now();
    const answer = await exchange(port, concat([payload, TERM]));
    const ms = performance.now() - start;
    const end = indexOf(answer, TERM);
    const codec = await Codec.create({ compression: bomb.compression });
    const reply = end > 0 ? await codec.decode(answer.subarray(0, end)) as { CODE?: number } : {};
    const served = await rpc.echo("still served") === "still served";
    return { growth: peakMb(child.pid) - before, ms, code: reply.CODE, served };
  } finally {
    child.kill();
    await lines.cancel();
    await child.status;
  }
}

async function serve(compression: Compression, maxMessageSize: number): Promise<void> {
  const logger = { info() {}, warn() {}, error() {} }; // the 505s are expected
  const server = new Server({
    hostname: "127.0.0.1",
    port: 0,
    compression,
    maxMessageSize,
    logger,
  });
  server.registerFunction(function echo(x: unknown) {
    return x;
  });
  await server.listen();
  console.log(server.addr.port);
  await server.runForever();
}

if (Deno.args[0] === "--server") {
  await serve(Deno.args[1] as Compression, Number(Deno.args[2]));
} else {
  const at = Deno.args.indexOf("--mib");
  const mib = at === -1 ? 400 : Number(Deno.args[at + 1]);
  console.log(
    `Decompression bombs of ${mib} MiB of zeros, sent as the first message (Deno ${Deno.version.deno})\n`,
  );
  console.log(
    "| bomb | on the wire | maxMessageSize | server peak RSS growth | time to the answer | answer | other connection |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | --- | --- |");
  for (const bomb of BOMBS) {
    const payload = await makeBomb(bomb.python, mib);
    if (indexOf(payload, TERM) !== -1) {
      throw new Error(`the ${bomb.label} bomb holds the terminator`);
    }
    for (const limit of LIMITS) {
      const { growth, ms, code, served } = await measure(bomb, payload, limit);
      console.log(
        `| ${bomb.label} | ${payload.length.toLocaleString("en-US")} B | ${limit / MiB} MiB | ` +
          `${growth.toFixed(1)} MiB | ${ms.toFixed(0)} ms | ${code ?? "none"} | ${
            served ? "served" : "NOT served"
          } |`,
      );
    }
  }
}
