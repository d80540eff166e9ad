/**
 * Text that every store can hold. PostgreSQL's TEXT cannot hold U+0000 (it fails the whole
 * statement, and so the whole batch a record travels in), and no verge field has a use for it, so
 * the protocol boundary refuses it in every string of a message or request body, keys included.
 */
import { VergeError } from '../errors.ts';

/** Deepest nesting walked; protocol messages are a few levels deep (bounded by their schemas). */
const MAX_DEPTH = 64;

/** Path of the first string (or object key) holding U+0000 in a parsed JSON value, or null. */
export function findNulString(value: unknown, path = '$', depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = findNulString(value[i], `${path}[${i}]`, depth + 1);
      if (p) return p;
    }
    return null;
  }
  // plain records only (JSON objects; null-prototype maps such as parsed paths and queries): a raw
  // body (artifact bytes, a stream) is not text and may be cyclic
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== Object.prototype && proto !== null && Object.getPrototypeOf(proto) !== null) return null;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return `${path} key ${JSON.stringify(k)}`;
    const p = findNulString(v, `${path}.${k}`, depth + 1);
    if (p) return p;
  }
  return null;
}

/** Throws E_PROTOCOL naming the field when any string of `value` holds U+0000. */
export function assertNoNul(value: unknown, what: string): void {
  const at = findNulString(value);
  if (at) throw new VergeError('E_PROTOCOL', `${what}: a NUL character (U+0000) in ${at} is not allowed`);
}
