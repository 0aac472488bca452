/**
 * Errors, one class per MPRPC status code; `err.code` is the code on the wire.
 *
 * @module
 */
import { Code, type ErrorData } from "./messages.ts";

/** Fields a call error carries besides its message. */
export interface MprpcErrorInit {
  /** The call `ID` the error answers, when it answers a call. */
  id?: string;
  /** The remote error's class name (`EXCEPTION` on the wire). */
  exception?: string;
  /** The remote call's method, arguments and, in debug mode, stack (`DATA` on the wire). */
  data?: ErrorData;
  /** The error that caused this one. */
  cause?: unknown;
}

/**
 * The base of every MPRPC error; `code` is the protocol status code.
 *
 * @example Telling error kinds apart
 * ```ts
 * import assert from "node:assert/strict";
 * import { MprpcError, NotFindError } from "mprpc";
 * const err: MprpcError = new NotFindError("no method 'nope'");
 * assert.equal(err.code, 401);
 * assert.ok(err instanceof NotFindError);
 * ```
 */
export class MprpcError extends Error {
  /** The protocol status code. */
  readonly code: number = Code.SERVER_ERROR;
  /** The call `ID` this error answers, if any. */
  readonly id?: string;
  /** The remote error's class name, if the error came from the peer. */
  readonly exception?: string;
  /** The remote call's method, arguments and stack, if the peer sent them. */
  readonly data?: ErrorData;

  /** Creates an error with a message and optional call fields. */
  constructor(message = "", init: MprpcErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.id = init.id;
    this.exception = init.exception;
    this.data = init.data;
  }
}

/** 300: the result of a method marked as expiring (deprecated). */
export class ExpireWarning extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.EXPIRE_WARNING;
}
/** 301: the result of a stream method marked as expiring (deprecated). */
export class ExpireStreamWarning extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.EXPIRE_STREAM_WARNING;
}
/** 400: a malformed call (no `METHOD`, bad `ARGS` type, …). */
export class RequestError extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.REQUEST_ERROR;
}
/** 401: no such method. */
export class NotFindError extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.NOT_FOUND;
}
/** 402: the arguments do not fit the method's signature. */
export class ParamError extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.PARAM_ERROR;
}
/** 403: the method exists but this caller may not call it. */
export class RestrictAccessError extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.RESTRICT_ACCESS;
}
/** 404: the method threw. */
export class RPCRuntimeError extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.RUNTIME_ERROR;
}
/** 405: the result is too large, or cannot be framed. */
export class ResultLimitError extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.RESULT_LIMIT;
}
/** 406: an unknown `system.*` method. */
export class UnsupportSysMethodError extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.UNSUPPORTED_SYS_METHOD;
}
/** 500: a server error. */
export class RpcException extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.SERVER_ERROR;
}
/** 501: authentication failed (or a call came before authentication). */
export class LoginError extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.LOGIN_ERROR;
}
/** 502: a service the server depends on failed. */
export class RequirementException extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.REQUIREMENT;
}
/**
 * 503: the server is unavailable: it said so (shutting down, too many calls), or the client could
 * not reach one (it could not connect, no broker named a server, the connection is not back in
 * time; the message says which, and `cause` holds the transport's error). A call that failed so was
 * not run; compare {@linkcode ConnectionLostError}.
 */
export class RpcUnavailableException extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.UNAVAILABLE;
}
/**
 * 503, raised by the client itself: the connection broke (the server vanished, the network
 * failed, heartbeats went unanswered) while the call was waiting for its answer. Unlike other
 * 503s, the call may or may not have run; it was not retried.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionLostError, RpcUnavailableException } from "mprpc";
 * const err = new ConnectionLostError("the connection to 127.0.0.1:5000 was lost");
 * assert.ok(err instanceof RpcUnavailableException);
 * assert.equal(err.code, 503);
 * ```
 */
export class ConnectionLostError extends RpcUnavailableException {}
/** 504: the server closed an idle connection, or a call outlived its client-side timeout. */
export class TimeoutException extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.TIMEOUT;
}
/** 505: wrong protocol version, undecodable payload, or oversize message. */
export class ProtocolException extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.PROTOCOL;
}
/** 506: a decodable map that is not a valid message. */
export class ProtocolSyntaxException extends MprpcError {
  /** The status code. */
  override readonly code: number = Code.PROTOCOL_SYNTAX;
}

/**
 * The class name an error is reported under (`EXCEPTION` on the wire): a remote error's own
 * name, a `DOMException`'s specific name (`DataCloneError`), else the constructor's name.
 */
export function errorClassName(err: unknown): string {
  if (err instanceof MprpcError) return err.exception ?? err.name;
  if (err instanceof DOMException) return err.name;
  if (err instanceof Error) return err.constructor.name;
  return typeof err;
}

const byCode = new Map<number, typeof MprpcError>(
  [
    ExpireWarning,
    ExpireStreamWarning,
    RequestError,
    NotFindError,
    ParamError,
    RestrictAccessError,
    RPCRuntimeError,
    ResultLimitError,
    UnsupportSysMethodError,
    RpcException,
    LoginError,
    RequirementException,
    RpcUnavailableException,
    TimeoutException,
    ProtocolException,
    ProtocolSyntaxException,
  ].map((cls) => [new cls().code, cls]),
);

/**
 * The error for a status code received from a peer; unknown codes become a plain
 * {@linkcode MprpcError} that still carries the code.
 */
export function errorFromCode(code: number, message: string, init?: MprpcErrorInit): MprpcError {
  const cls = byCode.get(code);
  if (cls) return new cls(message, init);
  const err = new MprpcError(message, init);
  Object.defineProperty(err, "code", { value: code });
  return err;
}
