import { broadcasting } from '../elementwise.ts';

/** Mod: numpy-broadcast over its inputs; output type of the first input. */
export const Mod = broadcasting('Mod');
