import { sameAsInput } from '../elementwise.ts';

/** Clip: min/max (inputs from opset 11, attributes before) do not change the shape. */
export const Clip = sameAsInput('Clip');
