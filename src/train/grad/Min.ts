import { selectGrad } from './minmax.ts';
import type { GradRule } from './rule.ts';

export const Min: GradRule = { op: 'Min', grad: (c) => selectGrad(c, 'LessOrEqual') };
