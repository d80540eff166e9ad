/**
 * Seeded weight initializers. Every random number comes from one mulberry32 stream per build
 * (src/data/dataset.ts rng), so the same seed gives the same model bit for bit.
 */
import { VergeError } from '../errors.ts';

export type InitName = 'torch' | 'he-uniform' | 'he-normal' | 'glorot-uniform' | 'glorot-normal' | 'zeros' | 'ones';

export const INIT_NAMES: readonly InitName[] = Object.freeze([
  'torch',
  'he-uniform',
  'he-normal',
  'glorot-uniform',
  'glorot-normal',
  'zeros',
  'ones',
]);

/** Fan-in and fan-out of a weight, as PyTorch and Keras compute them (receptive field times channels). */
export interface Fans {
  fanIn: number;
  fanOut: number;
}

/** Uniform random source in [0, 1). */
export type Uniform = () => number;

/** Standard normal sample by Box-Muller from two uniforms (u1 kept away from 0 for the log). */
export function normalSample(rand: Uniform): number {
  const u1 = Math.max(rand(), Number.MIN_VALUE);
  const u2 = rand();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

function fillUniform(out: Float32Array, bound: number, rand: Uniform): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = (2 * rand() - 1) * bound;
  return out;
}

function fillNormal(out: Float32Array, std: number, rand: Uniform): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = normalSample(rand) * std;
  return out;
}

/**
 * Fill `count` values with an initializer.
 * - torch: PyTorch's default for Linear/Conv weights and biases (kaiming_uniform with a=sqrt(5)),
 *   which reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 * - he-*: Kaiming/He for ReLU networks, gain sqrt(2) over fan_in.
 * - glorot-*: Xavier/Glorot, variance 2/(fan_in + fan_out).
 */
export function initValues(name: InitName, count: number, fans: Fans, rand: Uniform): Float32Array {
  const out = new Float32Array(count);
  const fanIn = Math.max(1, fans.fanIn);
  const fanOut = Math.max(1, fans.fanOut);
  switch (name) {
    case 'zeros':
      return out;
    case 'ones':
      return out.fill(1);
    case 'torch':
      return fillUniform(out, 1 / Math.sqrt(fanIn), rand);
    case 'he-uniform':
      return fillUniform(out, Math.sqrt(6 / fanIn), rand);
    case 'he-normal':
      return fillNormal(out, Math.sqrt(2 / fanIn), rand);
    case 'glorot-uniform':
      return fillUniform(out, Math.sqrt(6 / (fanIn + fanOut)), rand);
    case 'glorot-normal':
      return fillNormal(out, Math.sqrt(2 / (fanIn + fanOut)), rand);
    default:
      throw new VergeError('E_BAD_ARGUMENT', `unknown initializer '${String(name)}' (known: ${INIT_NAMES.join(', ')})`);
  }
}
