/**
 * The client commands: `call`, `list`, `describe` and `ping`, against any MPRPC server (ours,
 * pymprpc's) or through brokers (`broker://`).
 *
 * @module
 */
import { AsyncRPC } from "../client/async_rpc.ts";
import { ItemStream } from "../call/item_stream.ts";
import { MprpcError, NotFindError } from "../protocol/errors.ts";
import { onShutdownSignal } from "../platform/runtime.deno.ts";
import { sleep } from "../util/backoff.ts";
import {
  CLIENT_FLAGS,
  CLIENT_FLAGS_HELP,
  clientOptions,
  type Command,
  expect,
  type Flags,
  numberFlag,
  stringFlag,
  UsageError,
} from "./args.ts";
import {
  errorLine,
  Exit,
  isClosedOutput,
  ms,
  note,
  parseArg,
  toJson,
  writeLine,
} from "./output.ts";

const URL_HELP =
  `URL is tcp://USER:PASS@HOST:PORT (tls:// for TLS), or broker://USER:PASS@HOST:PORT[,HOST:PORT…]
(broker+tls://) to be sent to a server by brokers.`;

const EXIT_HELP =
  `Exit status: 0 done, 1 the call failed (the error's code, class and message on stderr),
2 usage, 3 no connection (could not connect, login refused, connection lost), 130 interrupted.`;

// Whether `err` is the connection's failure rather than the call's: a 5xx that answers no call
// (the connection was lost, or the server closed it). A call's own failure (its error answer,
// its timeout) carries the call's ID.
function connectionFailed(err: unknown): boolean {
  return err instanceof MprpcError && err.id === undefined && err.code >= 500;
}

// `promise`, or the signal's reason once it is aborted.
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Connects to `url` as the client flags say, runs `body` with the client and an `AbortSignal`
 * that SIGINT or SIGTERM aborts, and closes the client; the exit status, errors printed.
 */
async function withClient(
  url: string,
  flags: Flags,
  body: (rpc: AsyncRPC, signal: AbortSignal) => Promise<number>,
): Promise<number> {
  let rpc: AsyncRPC;
  try {
    rpc = new AsyncRPC(url, clientOptions(flags));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
  const started = performance.now();
  try {
    await rpc.connect();
  } catch (err) {
    console.error(errorLine(err));
    return Exit.UNAVAILABLE;
  }
  note(`connected to ${rpc.remoteAddress} in ${ms(performance.now() - started)}`);
  // From here a signal stops the command, which then closes the connection (cancelling a call
  // on a server that knows the `cancel` extension); until here it ends the process as usual.
  const interrupt = new AbortController();
  const stop = onShutdownSignal(() => interrupt.abort(new Error("interrupted")));
  try {
    return await body(rpc, interrupt.signal);
  } catch (err) {
    if (interrupt.signal.aborted) return Exit.INTERRUPTED;
    if (isClosedOutput(err)) return Exit.OK; // a reader that took what it wanted: `| head -1`
    console.error(errorLine(err));
    return connectionFailed(err) ? Exit.UNAVAILABLE : Exit.FAILED;
  } finally {
    stop();
    await rpc.close();
  }
}

/** `mprpc call`. */
export const call: Command = {
  usage: `usage: mprpc call URL METHOD [ARG...] [--kwargs JSON] [client flags]
Calls METHOD and prints its result as one line of JSON; a stream's items print one per line as
they arrive. Each ARG is JSON if it parses, else a string ('"42"' is the string 42); bytes are
{"$bytes": "<base64>"} both ways.
  --kwargs JSON       named arguments, a JSON object
${CLIENT_FLAGS_HELP}
${URL_HELP}
${EXIT_HELP}`,
  flags: { ...CLIENT_FLAGS, kwargs: "string" },
  run(flags, positionals) {
    expect(positionals, 2, Infinity, "URL METHOD [ARG...]");
    const [url, method, ...args] = positionals;
    const kwargs = kwargsFlag(stringFlag(flags, "kwargs"));
    return withClient(url, flags, async (rpc, signal) => {
      const started = performance.now();
      const result = await rpc.call(method, args.map(parseArg), kwargs, { signal });
      if (!(result instanceof ItemStream)) {
        await writeLine(toJson(result));
        note(`(${ms(performance.now() - started)})`);
        return Exit.OK;
      }
      let items = 0;
      // Leaving the loop early (stdout closed, a signal) cancels the call on the server.
      for await (const item of result) {
        await writeLine(toJson(item));
        items++;
      }
      note(`(${items} items, ${ms(performance.now() - started)})`);
      return Exit.OK;
    });
  },
};

function kwargsFlag(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  const value = parseArg(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`--kwargs takes a JSON object, not '${text}'`);
  }
  return value as Record<string, unknown>;
}

/** `mprpc list`. */
export const list: Command = {
  usage: `usage: mprpc list URL [client flags]
Prints the server's methods, one per line (system.listMethods: the server must register its
introspection functions, as pymprpc's register_introspection_functions or mprpc serve do).
${CLIENT_FLAGS_HELP}
${URL_HELP}
${EXIT_HELP}`,
  flags: CLIENT_FLAGS,
  run(flags, positionals) {
    expect(positionals, 1, 1, "URL");
    return withClient(positionals[0], flags, async (rpc, signal) => {
      const names: unknown = await rpc.call("system.listMethods", [], {}, { signal });
      if (!Array.isArray(names)) throw new Error(`system.listMethods answered ${toJson(names)}`);
      for (const name of names) await writeLine(String(name));
      return Exit.OK;
    });
  },
};

/** `mprpc describe`. */
export const describe: Command = {
  usage: `usage: mprpc describe URL METHOD [client flags]
Prints METHOD's signature, then its documentation (system.methodSignature and
system.methodHelp: the server must register its introspection functions).
${CLIENT_FLAGS_HELP}
${URL_HELP}
${EXIT_HELP}`,
  flags: CLIENT_FLAGS,
  run(flags, positionals) {
    expect(positionals, 2, 2, "URL METHOD");
    const [url, method] = positionals;
    return withClient(url, flags, async (rpc, signal) => {
      const [signature, help] = await Promise.all([
        rpc.call("system.methodSignature", [method], {}, { signal }),
        rpc.call("system.methodHelp", [method], {}, { signal }),
      ]);
      // Both are "" for a method the server does not have (a method without parameters is "()").
      if (!signature && !help) throw new NotFindError(`no method named '${method}'`);
      await writeLine(`${method}${signature}`);
      if (help) await writeLine(`\n${help}`);
      return Exit.OK;
    });
  },
};

/** `mprpc ping`. */
export const ping: Command = {
  usage: `usage: mprpc ping URL [--count N] [--interval S] [client flags]
Measures round trips of the protocol's heartbeat (ping, pong), which every MPRPC server answers:
one line per pong, then min/avg/max. Ctrl-C stops early and still prints them.
  --count N           pings to send, 0 for until interrupted; default 4
  --interval S        seconds between pings; default 1
${CLIENT_FLAGS_HELP}
${URL_HELP}
${EXIT_HELP}`,
  flags: { ...CLIENT_FLAGS, count: "string", interval: "string" },
  run(flags, positionals) {
    expect(positionals, 1, 1, "URL");
    const count = numberFlag("count", stringFlag(flags, "count")) ?? 4;
    if (!Number.isInteger(count)) {
      throw new UsageError(`--count takes a whole number, not ${count}`);
    }
    const interval = numberFlag("interval", stringFlag(flags, "interval")) ?? 1;
    return withClient(positionals[0], flags, async (rpc, signal) => {
      const times: number[] = [];
      try {
        for (let i = 0; count === 0 || i < count; i++) {
          if (i > 0 && !await sleep(interval * 1000, signal)) break;
          const time = await abortable(rpc.roundTrip(), signal);
          times.push(time);
          await writeLine(`pong from ${rpc.remoteAddress}: ${ms(time)}`);
        }
      } finally {
        if (times.length > 0) await writeLine(summary(times)).catch(() => {});
      }
      return signal.aborted ? Exit.INTERRUPTED : Exit.OK;
    });
  },
};

// `n pongs: min/avg/max a/b/c ms`.
function summary(times: number[]): string {
  const avg = times.reduce((sum, time) => sum + time, 0) / times.length;
  const [min, max] = [Math.min(...times), Math.max(...times)];
  const figures = [min, avg, max].map((time) => ms(time).slice(0, -3)).join("/");
  return `${times.length} pongs: min/avg/max ${figures} ms`;
}
