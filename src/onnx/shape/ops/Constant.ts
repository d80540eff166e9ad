import { tensorType, type ShapeRule } from '../rule.ts';

/** Constant: the type of its value (tensor, sparse tensor, value_int(s), value_float(s), value_string(s)). */
export const Constant: ShapeRule = {
  op: 'Constant',
  infer: (ctx) => {
    const a =
      ctx.attr('value') ??
      ctx.attr('sparse_value') ??
      ctx.attr('value_int') ??
      ctx.attr('value_ints') ??
      ctx.attr('value_float') ??
      ctx.attr('value_floats') ??
      ctx.attr('value_string') ??
      ctx.attr('value_strings');
    if (!a) return undefined;
    switch (a.type) {
      case 'tensor':
        return tensorType(a.value.dtype, [...a.value.dims]);
      case 'sparse_tensor':
        return tensorType(a.value.values.dtype, [...a.value.dims]);
      case 'int':
        return tensorType('int64', []);
      case 'ints':
        return tensorType('int64', [a.value.length]);
      case 'float':
        return tensorType('float32', []);
      case 'floats':
        return tensorType('float32', [a.value.length]);
      case 'string':
        return tensorType('string', []);
      case 'strings':
        return tensorType('string', [a.value.length]);
      default:
        return undefined;
    }
  },
};
