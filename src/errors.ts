/**
 * Typed errors shared by every layer. A VergeError carries a stable code and a one-line
 * message a user can act on; the CLI prints `CODE: message` and exits non-zero.
 */
export type ErrorCode =
  | 'E_FILE_NOT_FOUND'
  | 'E_FILE_UNREADABLE'
  | 'E_MODEL_TRUNCATED'
  | 'E_MODEL_INVALID'
  | 'E_NOT_ONNX'
  | 'E_GRAPH_INVALID'
  | 'E_UNKNOWN_OP'
  | 'E_SHAPE_MISMATCH'
  | 'E_DTYPE_MISMATCH'
  | 'E_INPUT_MISSING'
  | 'E_BAD_ARGUMENT'
  | 'E_DATA_INVALID'
  | 'E_DATA_NOT_FOUND'
  | 'E_RUNTIME'
  | 'E_PROVIDER_UNAVAILABLE'
  | 'E_UNSUPPORTED'
  | 'E_NO_GRADIENT'
  | 'E_NETWORK'
  | 'E_AUTH'
  | 'E_NOT_FOUND'
  | 'E_CONFLICT'
  | 'E_SIGNATURE'
  | 'E_INTEGRITY'
  | 'E_PROTOCOL'
  | 'E_OVERLOADED'
  | 'E_TOO_LARGE'
  | 'E_TIMEOUT'
  | 'E_INTERNAL';

export class VergeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'VergeError';
  }
  /** The one line the CLI prints. */
  toLine(): string {
    return `${this.code}: ${this.message}`;
  }
}

export function isVergeError(e: unknown): e is VergeError {
  return e instanceof VergeError;
}

/**
 * HTTP status of each error code: the one map every verge server (control plane, agent local API)
 * answers with. A Record, so a new code does not compile until its status is chosen here.
 * 4xx: the request (or what it names) is at fault; 5xx: the server or something it depends on.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  E_FILE_NOT_FOUND: 500, // a server-side file; a resource the caller names missing is E_NOT_FOUND
  E_FILE_UNREADABLE: 500,
  E_MODEL_TRUNCATED: 422,
  E_MODEL_INVALID: 422,
  E_NOT_ONNX: 422,
  E_GRAPH_INVALID: 422,
  E_UNKNOWN_OP: 422,
  E_SHAPE_MISMATCH: 400,
  E_DTYPE_MISMATCH: 400,
  E_INPUT_MISSING: 400,
  E_BAD_ARGUMENT: 400,
  E_DATA_INVALID: 400,
  E_DATA_NOT_FOUND: 404,
  E_RUNTIME: 500,
  E_PROVIDER_UNAVAILABLE: 503,
  // well-formed, but this server cannot do it (no variant fits, a dtype JSON cannot carry)
  E_UNSUPPORTED: 422,
  E_NO_GRADIENT: 422,
  E_NETWORK: 503,
  E_AUTH: 401,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_SIGNATURE: 422,
  E_INTEGRITY: 422,
  E_PROTOCOL: 400,
  // load shedding: too many requests at once (retry later), a request over a size cap, a deadline missed
  E_OVERLOADED: 429,
  E_TOO_LARGE: 413,
  E_TIMEOUT: 503,
  E_INTERNAL: 500,
});

/** HTTP status for an error code (500 for a code unknown at run time). */
export function httpStatusOf(code: string): number {
  return (HTTP_STATUS as Record<string, number | undefined>)[code] ?? 500;
}

/** Format a number of bytes with thousands separators, as used in error messages. */
export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}
