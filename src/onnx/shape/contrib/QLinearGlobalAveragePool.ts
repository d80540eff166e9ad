import { tensorType, type ShapeRule } from '../rule.ts';

/** com.microsoft QLinearGlobalAveragePool: [N, C, 1, ...], or [N, 1, ..., C] with channels_last. */
export const QLinearGlobalAveragePool: ShapeRule = {
  op: 'QLinearGlobalAveragePool',
  domain: 'com.microsoft',
  infer: (ctx) => {
    const x = ctx.input(0);
    if (!x) return undefined;
    const s = x.shape;
    if (!s || s.length < 3) return tensorType(x.dtype, s);
    const last = ctx.int('channels_last', 0) === 1;
    return tensorType(
      x.dtype,
      last ? [s[0]!, ...s.slice(1, -1).map(() => 1), s[s.length - 1]!] : [s[0]!, s[1]!, ...s.slice(2).map(() => 1)],
    );
  },
};
