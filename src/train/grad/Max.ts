import { selectGrad } from './minmax.ts';
import type { GradRule } from './rule.ts';

export const Max: GradRule = { op: 'Max', grad: (c) => selectGrad(c, 'GreaterOrEqual') };
