/**
 * The server's gate for client uploads, shared by the simulator and the control plane: an update
 * must decode, have the model's length and hold only finite values, or it is refused with a reason
 * and the round goes on without it (it never reaches the global model).
 */
import { isVergeError, VergeError } from '../errors.ts';
import { decompress } from './compress/index.ts';
import { firstNonFinite } from './weights.ts';

export type UpdateVerdict = { ok: true; update: Float32Array } | { ok: false; code: string; reason: string };

export function acceptUpdate(bytes: Uint8Array, expectedLength: number): UpdateVerdict {
  let update: Float32Array;
  try {
    update = decompress(bytes, expectedLength);
  } catch (e) {
    if (!isVergeError(e)) throw e;
    return { ok: false, code: e.code, reason: e.message };
  }
  const bad = firstNonFinite(update);
  if (bad >= 0)
    return { ok: false, code: 'E_DATA_INVALID', reason: `update value ${bad} is ${update[bad]} (not finite)` };
  return { ok: true, update };
}

/** Throwing form for callers that answer an upload directly. */
export function requireUpdate(bytes: Uint8Array, expectedLength: number): Float32Array {
  const v = acceptUpdate(bytes, expectedLength);
  if (!v.ok) throw new VergeError(v.code as 'E_PROTOCOL', v.reason);
  return v.update;
}
