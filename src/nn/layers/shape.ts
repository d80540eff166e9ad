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

/** Reorder each sample's axes (e.g. [steps, features] → [features, steps] before a 1-D conv). */
export class Permute extends Layer {
  readonly kind = 'permute';
  readonly perm: number[];
  constructor(perm: number[], name?: string) {
    super(name);
    const sorted = [...perm].sort((a, b) => a - b);
    if (!sorted.every((v, i) => v === i))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `permute needs a permutation of 0..${perm.length - 1}, got ${shapeStr(perm)}`,
      );
    this.perm = perm;
  }
  outputShape([s]: Shape[]): Shape {
    if (s!.length !== this.perm.length)
      throw shapeError(this.kind, `${this.perm.length} axes for input ${shapeStr(s!)}`);
    return this.perm.map((p) => s![p]!);
  }
  paramCount(): number {
    return 0;
  }
  emit(ctx: BuildContext, _scope: string, [x]: string[]): string {
    return ctx.g.op('Transpose', [x!], { perm: [0, ...this.perm.map((p) => p + 1)] });
  }
}
