import { dtypeCode, isFloat } from '../../onnx/browser.ts';
import type { GradRule } from './rule.ts';

/** Float→float casts pass the gradient back in the input's type; casts from integers get none. */
export const Cast: GradRule = {
  op: 'Cast',
  grad: (c) => {
    const from = c.dtype(c.input(0));
    if (!isFloat(from)) return [undefined];
    return [from === c.dtype(c.output(0)) ? c.dy() : c.op('Cast', [c.dy()], { to: dtypeCode(from) })];
  },
};
