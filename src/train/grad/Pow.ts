import type { GradRule } from './rule.ts';

/** Y = X^E: dX = dY·E·X^(E−1); dE = dY·Y·ln X (only when E is trained). */
export const Pow: GradRule = {
  op: 'Pow',
  grad: (c) => {
    const x = c.input(0);
    const e = c.input(1);
    let dX: string | undefined;
    if (c.needsGrad(0)) {
      const constE = c.constFloats(e);
      const xe1 =
        constE?.length === 1 && constE[0] === 2 ? x : c.op('Pow', [x, c.op('Sub', [e, c.scalar(1, c.dtype(e))])]);
      const scale = constE?.length === 1 ? c.scalar(constE[0]!) : c.toFloat(e);
      dX = c.sumToShape(c.op('Mul', [c.dy(), c.op('Mul', [xe1, scale])]), x);
    }
    const dE = c.needsGrad(1)
      ? c.sumToShape(c.op('Mul', [c.dy(), c.op('Mul', [c.output(0), c.op('Log', [x])])]), e)
      : undefined;
    return [dX, dE];
  },
};
