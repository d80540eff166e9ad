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

/** Format a number of bytes with thousands separators, as used in error messages. */
export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}
