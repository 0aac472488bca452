/**
 * What tests need from the runtime. `test_platform.deno.ts` implements it for `deno test`; the
 * npm build swaps in `test_platform.node.ts`, so the same suite runs under `node --test`.
 */

/** A raw TCP connection for wire-level tests. */
export interface TcpConnection {
  /** Reads into `buffer`; the byte count, or `null` at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes all of `bytes`. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the connection (safe to repeat). */
  close(): void;
}

/** A raw TCP listener on 127.0.0.1. */
export interface TcpListener {
  /** The port the OS chose. */
  port: number;
  /** The next connection. */
  accept(): Promise<TcpConnection>;
  /** Stops listening. */
  close(): void;
}

/** A child process. */
export interface Child {
  /** Its standard output. */
  stdout: ReadableStream<Uint8Array>;
  /** Its standard input. */
  stdin: WritableStream<Uint8Array>;
  /** Sends it `signal` (SIGTERM unless told); nothing if it has exited. */
  kill(signal?: "SIGTERM" | "SIGKILL"): void;
  /** Its exit code, once it has exited. */
  status: Promise<number>;
}

/** What a process that ran to its end left: its exit code and its output. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** The runtime, for benchmark reports. */
export interface RuntimeInfo {
  /** e.g. "Deno 2.9.6" or "Node v20.20.2". */
  name: string;
  /** Logical cores. */
  cores: number;
  /** The script's command-line arguments. */
  args: string[];
}
