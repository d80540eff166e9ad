/** Layers that only move data: Flatten, Reshape. */
import { VergeError } from '../../errors.ts';
import { Layer, product, shapeError, shapeStr, type BuildContext, type Shape } from '../layer.ts';

export class Flatten extends Layer {
  readonly kind = 'flatten';
  constructor(name?: string) {
    super(name);
  }
  outputShape([s]: Shape[]): Shape {
    return [product(s!)];
  }
  paramCount(): number {
    return 0;
  }
  emit(ctx: BuildContext, _scope: string, [x]: string[]): string {
    return ctx.g.op('Flatten', [x!], { axis: 1 });
  }
}

/** Reshape each sample to `target` (one entry may be -1). */
export class Reshape extends Layer {
  readonly kind = 'reshape';
  readonly target: number[];
  constructor(target: number[], name?: string) {
    super(name);
    if (target.filter((d) => d === -1).length > 1 || target.some((d) => !Number.isInteger(d) || d === 0 || d < -1)) {
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `reshape target ${shapeStr(target)} must hold positive sizes and at most one -1`,
      );
    }
    this.target = target;
  }
  outputShape([s]: Shape[]): Shape {
    const n = product(s!);
    const known = product(this.target.filter((d) => d !== -1));
    const resolved = this.target.map((d) => (d === -1 ? n / known : d));
    if (product(resolved) !== n || !resolved.every(Number.isInteger)) {
      throw shapeError(this.kind, `cannot reshape ${shapeStr(s!)} (${n} values) to ${shapeStr(this.target)}`);
    }
    return resolved;
  }
  paramCount(): number {
    return 0;
  }
  emit(ctx: BuildContext, _scope: string, [x]: string[], shapes: Shape[]): string {
    const shape = ctx.g.constInt64([-1, ...this.outputShape(shapes)], undefined, 'reshape_shape');
    return ctx.g.op('Reshape', [x!, shape]);
  }
}
