import type { GradRule } from './rule.ts';

/**
 * Dropout in training mode, rewritten into primitives: one scaled keep-mask, drawn once per step
 * and reused by the Mul rule in the backward pass (dX = dY · mask / keep).
 */
export const Dropout: GradRule = {
  op: 'Dropout',
  trainingForward: (c) => {
    const x = c.input(0);
    let ratio = c.attrFloat('ratio', 0.5);
    if (c.opset >= 12) {
      ratio = 0.5;
      if (c.has(1)) {
        const r = c.constFloats(c.input(1));
        if (!r) c.fail('the dropout ratio must be a constant');
        ratio = r![0]!;
      }
    }
    const outputs = c.node.outputs;
    if (ratio <= 0) {
      c.g.op('Identity', [x], {}, { output: outputs[0] });
    } else {
      const keep = 1 - ratio;
      const u = c.op('RandomUniformLike', [x], { seed: { type: 'float', value: c.seed } });
      const mask = c.op('Less', [u, c.scalar(keep)]);
      const scaledMask = c.op('Mul', [c.toFloat(mask), c.scalar(1 / keep)]);
      c.g.op('Mul', [x, scaledMask], {}, { output: outputs[0] });
      if (outputs[1]) c.g.op('Identity', [mask], {}, { output: outputs[1] });
      return;
    }
    if (outputs[1])
      c.g.op(
        'ConstantOfShape',
        [c.op('Shape', [x])],
        { value: { type: 'tensor', value: { name: 'v', dtype: 'bool', dims: [1], data: new Uint8Array([1]) } } },
        { output: outputs[1] },
      );
  },
};
