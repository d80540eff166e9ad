/**
 * The error answer of every verge HTTP server: `{"error": {"code", "message"}}` with the status
 * from the one code → status map (errors.ts HTTP_STATUS). Servers call `errorReply` from their
 * error handler; it never leaks a stack trace.
 */
import { httpStatusOf, isVergeError } from '../errors.ts';
import type { ErrorResponse } from './http.ts';

export interface ErrorReply {
  status: number;
  body: ErrorResponse;
}

/**
 * A VergeError keeps its code (and a `statusCode` it carries, e.g. 403 for an E_AUTH that is a
 * refusal rather than missing credentials); a request the HTTP framework refused (schema
 * validation, bad JSON: a `statusCode` below 500) is E_BAD_ARGUMENT with that status (a body
 * too large: E_TOO_LARGE, 413); anything else is E_INTERNAL 500 with the first line of its message.
 */
export function errorReply(err: unknown): ErrorReply {
  if (isVergeError(err)) {
    const own = (err as { statusCode?: unknown }).statusCode;
    const status = typeof own === 'number' ? own : httpStatusOf(err.code);
    return { status, body: { error: { code: err.code, message: err.message } } };
  }
  const e = err as { validation?: unknown; statusCode?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (e?.validation) return { status: 400, body: { error: { code: 'E_BAD_ARGUMENT', message } } };
  if (e?.statusCode === 413) return { status: 413, body: { error: { code: 'E_TOO_LARGE', message } } };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    return { status: e.statusCode, body: { error: { code: 'E_BAD_ARGUMENT', message } } };
  return { status: 500, body: { error: { code: 'E_INTERNAL', message: message.split('\n')[0] || 'internal error' } } };
}
