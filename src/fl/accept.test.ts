import { describe, expect, it } from 'vitest';
import { encodeUpdate } from '../protocol/fl-update.ts';
import { acceptUpdate } from './accept.ts';

describe('the server gate for client updates', () => {
  it('accepts a well-formed update', () => {
    const v = acceptUpdate(encodeUpdate({ codec: 'fp32', length: 3, values: Float32Array.of(1, 2, 3) }), 3);
    expect(v.ok && [...v.update]).toEqual([1, 2, 3]);
  });

  it('refuses NaN and infinite values with the position', () => {
    const v = acceptUpdate(encodeUpdate({ codec: 'fp32', length: 3, values: Float32Array.of(1, NaN, 3) }), 3);
    expect(v).toMatchObject({ ok: false, code: 'E_DATA_INVALID', reason: 'update value 1 is NaN (not finite)' });
    const inf = acceptUpdate(
      encodeUpdate({ codec: 'topk', length: 3, indices: Uint32Array.of(2), values: Float32Array.of(Infinity) }),
      3,
    );
    expect(inf.ok).toBe(false);
  });

  it('refuses a wrong-size update and garbage bytes', () => {
    const v = acceptUpdate(encodeUpdate({ codec: 'fp32', length: 2, values: Float32Array.of(1, 2) }), 3);
    expect(v).toMatchObject({ ok: false, code: 'E_SHAPE_MISMATCH' });
    expect(acceptUpdate(new TextEncoder().encode('{"weights": [1,2,3]}'), 3)).toMatchObject({
      ok: false,
      code: 'E_PROTOCOL',
    });
  });
});
