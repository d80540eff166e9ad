/**
 * The `error` of an HTTP answer in the house shape ({"error":{"code","message"}}, protocol
 * ErrorResponse), read by the agent's HTTP clients (enrollment, artifact downloads): the fields
 * that are strings, or undefined for any other body. Bounded: a body announced over 64 KiB is not read.
 */
import type { ErrorResponse } from '../protocol/browser.ts';

const MAX_ERROR_BODY_BYTES = 65_536;

export async function errorInfo(res: Response): Promise<Partial<ErrorResponse['error']> | undefined> {
  if (Number(res.headers.get('content-length') ?? 0) > MAX_ERROR_BODY_BYTES) {
    await res.body?.cancel();
    return undefined;
  }
  let error: unknown;
  try {
    error = ((await res.json()) as { error?: unknown } | null)?.error;
  } catch {
    return undefined;
  }
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as Record<string, unknown>;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof message === 'string' ? { message } : {}),
  };
}
