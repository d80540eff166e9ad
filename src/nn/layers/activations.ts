/** Element-wise activations and Softmax. */
import { VergeError } from '../../errors.ts';
import { float } from '../../onnx/browser.ts';
import { Layer, fixedConstant, type BuildContext, type Shape } from '../layer.ts';

export type ActivationName = 'relu' | 'relu6' | 'leaky-relu' | 'sigmoid' | 'tanh' | 'gelu' | 'softmax' | 'linear';
export const ACTIVATION_NAMES: readonly ActivationName[] = Object.freeze([
  'relu',
  'relu6',
  'leaky-relu',
  'sigmoid',
  'tanh',
  'gelu',
  'softmax',
  'linear',
]);

abstract class Elementwise extends Layer {
  outputShape([s]: Shape[]): Shape {
    return s!;
  }
  paramCount(): number {
    return 0;
  }
}

export class ReLU extends Elementwise {
  readonly kind = 'relu';
  constructor(name?: string) {
    super(name);
  }
  emit(ctx: BuildContext, _s: string, [x]: string[]): string {
    return ctx.g.op('Relu', [x!]);
  }
}

/** min(max(x, 0), 6), as Clip (MobileNet's activation). */
export class ReLU6 extends Elementwise {
  readonly kind = 'relu6';
  constructor(name?: string) {
    super(name);
  }
  emit(ctx: BuildContext, _s: string, [x]: string[]): string {
    return ctx.g.op('Clip', [x!, fixedConstant(ctx.g, 'clip_min', [0]), fixedConstant(ctx.g, 'clip_max', [6])]);
  }
}

export class LeakyReLU extends Elementwise {
  readonly kind = 'leakyrelu';
  /** Default 0.01 (PyTorch's negative_slope). */
  constructor(
    readonly alpha = 0.01,
    name?: string,
  ) {
    super(name);
  }
  emit(ctx: BuildContext, _s: string, [x]: string[]): string {
    return ctx.g.op('LeakyRelu', [x!], { alpha: float(this.alpha) });
  }
}

export class Sigmoid extends Elementwise {
  readonly kind = 'sigmoid';
  constructor(name?: string) {
    super(name);
  }
  emit(ctx: BuildContext, _s: string, [x]: string[]): string {
    return ctx.g.op('Sigmoid', [x!]);
  }
}

export class Tanh extends Elementwise {
  readonly kind = 'tanh';
  constructor(name?: string) {
    super(name);
  }
  emit(ctx: BuildContext, _s: string, [x]: string[]): string {
    return ctx.g.op('Tanh', [x!]);
  }
}

/**
 * GELU from primitive ops. 'tanh' (default): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), made of
 * Mul/Add/Tanh so autodiff covers it. 'erf': the exact form 0.5·x·(1 + erf(x/√2)).
 */
export class GELU extends Elementwise {
  readonly kind = 'gelu';
  constructor(
    readonly approximate: 'tanh' | 'erf' = 'tanh',
    name?: string,
  ) {
    super(name);
  }
  emit(ctx: BuildContext, _s: string, [x]: string[]): string {
    const g = ctx.g;
    const half = fixedConstant(g, 'gelu_half', [0.5]);
    const one = fixedConstant(g, 'gelu_one', [1]);
    let inner: string;
    if (this.approximate === 'erf') {
      inner = g.op('Erf', [g.op('Mul', [x!, fixedConstant(g, 'gelu_rsqrt2', [Math.SQRT1_2])])]);
    } else {
      const x3 = g.op('Mul', [g.op('Mul', [x!, x!]), x!]);
      const poly = g.op('Add', [x!, g.op('Mul', [x3, fixedConstant(g, 'gelu_c', [0.044715])])]);
      inner = g.op('Tanh', [g.op('Mul', [poly, fixedConstant(g, 'gelu_k', [Math.sqrt(2 / Math.PI)])])]);
    }
    return g.op('Mul', [g.op('Mul', [x!, half]), g.op('Add', [inner, one])]);
  }
}

/** Softmax over the last axis. */
export class Softmax extends Elementwise {
  readonly kind = 'softmax';
  constructor(name?: string) {
    super(name);
  }
  emit(ctx: BuildContext, _s: string, [x]: string[]): string {
    return ctx.g.op('Softmax', [x!], { axis: -1 });
  }
}

export function activation(name: ActivationName): Layer | undefined {
  switch (name) {
    case 'relu':
      return new ReLU();
    case 'relu6':
      return new ReLU6();
    case 'leaky-relu':
      return new LeakyReLU();
    case 'sigmoid':
      return new Sigmoid();
    case 'tanh':
      return new Tanh();
    case 'gelu':
      return new GELU();
    case 'softmax':
      return new Softmax();
    case 'linear':
      return undefined;
    default:
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `unknown activation '${String(name)}' (known: ${ACTIVATION_NAMES.join(', ')})`,
      );
  }
}
