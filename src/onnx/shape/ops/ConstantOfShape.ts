import { known } from '../dims.ts';
import { tensorType, type ShapeRule, type SymbolicValue } from '../rule.ts';

/** Longest 1-D integer fill whose value is tracked (shape computations build short vectors). */
const MAX_TRACKED = 64;

/** ConstantOfShape: shape = the value of input 0; type of the `value` attribute (default float32). */
export const ConstantOfShape: ShapeRule = {
  op: 'ConstantOfShape',
  infer: (ctx) => {
    const a = ctx.attr('value');
    const dtype = a?.type === 'tensor' ? a.value.dtype : 'float32';
    const v = ctx.value(0);
    if (v) return tensorType(dtype, v.values);
    const len = ctx.shape(0)?.[0];
    return tensorType(dtype, known(len) ? new Array(len).fill(null) : undefined);
  },
  value: (ctx): SymbolicValue | undefined => {
    const shape = ctx.numbers(0);
    const a = ctx.attr('value');
    if (!shape || shape.length !== 1 || shape[0]! > MAX_TRACKED) return undefined;
    if (a && (a.type !== 'tensor' || (a.value.dtype !== 'int64' && a.value.dtype !== 'int32'))) return undefined;
    const fill = a?.type === 'tensor' ? Number((a.value.data as ArrayLike<number | bigint>)[0] ?? 0) : 0;
    return { values: new Array(shape[0]!).fill(fill), scalar: false };
  },
};
