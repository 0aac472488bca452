/**
 * Reading a call message and the extensions' control messages (`CANCEL`, `CREDIT` grants),
 * checked against what the connection negotiated. Nothing here does I/O.
 *
 * @module
 */
import { isMap, type Message } from "./messages.ts";

/** A call message, read. */
export interface CallMessage {
  /** The call's `ID`. */
  id: string;
  /** `METHOD`, or `""` if it was not a string (then `problem` says so). */
  method: string;
  /** `ARGS`. */
  args: unknown[];
  /** `KWARGS`. */
  kwargs: Record<string, unknown>;
  /** `RETURN`: whether the client waits for the answer. */
  wantsReturn: boolean;
  /** `DEADLINE` (the `deadline` extension): milliseconds the client will wait. */
  deadline?: number;
  /** `CREDIT` (the `credit` extension): the stream's initial window, in bytes. */
  credit?: number;
  /** `TRACE` (the `trace` extension): the caller's trace context, as its propagator wrote it. */
  trace?: TraceCarrier;
  /** Why the call is malformed (a 400), if it is. */
  problem?: string;
}

/** A positive integer below 2^53: a credit window or grant, in bytes. */
export function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

/** The least an item counts against a credit window, so that tiny items stay bounded in number. */
export const MIN_ITEM_CHARGE = 64;

/** What an item whose payload has `bytes` bytes counts against a credit window. */
export function creditCharge(bytes: number): number {
  return Math.max(bytes, MIN_ITEM_CHARGE);
}

/**
 * A trace context as OpenTelemetry propagators write it: header-like names and values, such as
 * `{ traceparent: "00-…-…-01", tracestate: "…" }` for W3C Trace Context.
 */
export type TraceCarrier = Record<string, string>;

/** The most entries a `TRACE` map may have (W3C Trace Context and baggage use three). */
export const MAX_TRACE_ENTRIES = 8;
/** The longest a `TRACE` value may be, in characters: W3C Baggage's limit for its header. */
export const MAX_TRACE_VALUE = 8192;
/** The longest a `TRACE` name may be, in characters. */
export const MAX_TRACE_NAME = 256;

// A propagator parses what it is given: a peer's carrier is held to what real ones write.
function isTraceCarrier(value: unknown): value is TraceCarrier {
  if (!isMap(value)) return false;
  const entries = Object.entries(value);
  return entries.length <= MAX_TRACE_ENTRIES &&
    entries.every(([name, text]) =>
      name.length <= MAX_TRACE_NAME && typeof text === "string" && text.length <= MAX_TRACE_VALUE
    );
}

function isDuration(value: unknown): value is number {
  return typeof value === "number" && value > 0 && Number.isFinite(value);
}

const MUST_BE = {
  DEADLINE: "a positive number",
  CREDIT: "a positive integer",
  TRACE: `a map of at most ${MAX_TRACE_ENTRIES} names of at most ${MAX_TRACE_NAME} characters, ` +
    `to strings of at most ${MAX_TRACE_VALUE}`,
};

// Why an extension field is not acceptable on this connection, if it is not.
function extensionProblem(
  message: Message,
  field: "DEADLINE" | "CREDIT" | "TRACE",
  extension: string,
  negotiated: ReadonlySet<string>,
  valid: (value: unknown) => boolean,
): string | undefined {
  if (!(field in message)) return undefined;
  if (!negotiated.has(extension)) {
    return `${field} needs the '${extension}' extension, which this connection did not negotiate`;
  }
  return valid(message[field]) ? undefined : `${field} must be ${MUST_BE[field]}`;
}

/** Reads the call `message` (which has a string `ID`), for a connection that negotiated `negotiated`. */
export function readCall(message: Message, negotiated: ReadonlySet<string>): CallMessage {
  const { ID, METHOD, ARGS = [], KWARGS = {}, RETURN = true, DEADLINE, CREDIT, TRACE } = message;
  const problem = typeof METHOD !== "string"
    ? "METHOD must be a string"
    : !Array.isArray(ARGS)
    ? "ARGS must be an array"
    : !isMap(KWARGS)
    ? "KWARGS must be a map"
    : typeof RETURN !== "boolean"
    ? "RETURN must be a boolean"
    // A decoded message holds no `undefined` (nil is null): most calls have none of the three
    // fields, and skip their checks.
    : DEADLINE === undefined && CREDIT === undefined && TRACE === undefined
    ? undefined
    : extensionProblem(message, "DEADLINE", "deadline", negotiated, isDuration) ??
      extensionProblem(message, "CREDIT", "credit", negotiated, isCount) ??
      extensionProblem(message, "TRACE", "trace", negotiated, isTraceCarrier);
  // One object shape for every call (no fields added or deleted later): this runs per call.
  return {
    id: ID as string,
    method: typeof METHOD === "string" ? METHOD : "",
    args: Array.isArray(ARGS) ? ARGS : [],
    kwargs: isMap(KWARGS) ? KWARGS : {},
    wantsReturn: RETURN !== false,
    deadline: problem === undefined ? DEADLINE as number | undefined : undefined,
    credit: problem === undefined ? CREDIT as number | undefined : undefined,
    trace: problem === undefined ? TRACE as TraceCarrier | undefined : undefined,
    problem,
  };
}

/** A control message of an extension: a cancel, or a credit grant. */
export type ControlMessage =
  | { kind: "cancel"; id: string }
  | { kind: "credit"; id: string; bytes: number };

/**
 * Reads `message` as a control message, if it is one (it has `CANCEL`, or a map `CREDIT`):
 * the message, or a reason it is refused (the `506` the extensions specify): malformed, or its
 * extension not negotiated. `undefined` if it is no control message at all.
 */
export function readControl(
  message: Message,
  negotiated: ReadonlySet<string>,
): ControlMessage | { refused: string } | undefined {
  if ("CANCEL" in message) {
    if (!negotiated.has("cancel")) return { refused: "CANCEL needs the 'cancel' extension" };
    const id = message.CANCEL;
    return typeof id === "string" ? { kind: "cancel", id } : { refused: "CANCEL must be an ID" };
  }
  const grant = message.CREDIT;
  if (!isMap(grant) || "ID" in message) return undefined;
  if (!negotiated.has("credit")) return { refused: "CREDIT needs the 'credit' extension" };
  const { ID: id, BYTES: bytes } = grant;
  return typeof id === "string" && isCount(bytes)
    ? { kind: "credit", id, bytes }
    : { refused: "a CREDIT grant needs a string ID and a positive integer BYTES" };
}
