/** Layers joining several inputs: Add (residual connections) and Concat. */
import { Layer, shapeError, shapeStr, type BuildContext, type Shape } from '../layer.ts';

export class Add extends Layer {
  readonly kind = 'add';
  override readonly arity = undefined;
  constructor(name?: string) {
    super(name);
  }
  outputShape(inputs: Shape[]): Shape {
    const [first] = inputs;
    for (const s of inputs) {
      if (shapeStr(s) !== shapeStr(first!))
        throw shapeError(this.kind, `inputs differ in shape: ${inputs.map(shapeStr).join(' vs ')}`);
    }
    return first!;
  }
  paramCount(): number {
    return 0;
  }
  emit(ctx: BuildContext, _s: string, inputs: string[]): string {
    let acc = inputs[0]!;
    for (const x of inputs.slice(1)) acc = ctx.g.op('Add', [acc, x]);
    return acc;
  }
}

/** Concatenate along a per-sample axis (default: the last). */
export class Concat extends Layer {
  readonly kind = 'concat';
  override readonly arity = undefined;
  constructor(
    readonly axis = -1,
    name?: string,
  ) {
    super(name);
  }
  private sampleAxis(rank: number): number {
    const a = this.axis < 0 ? rank + this.axis : this.axis;
    if (a < 0 || a >= rank) throw shapeError(this.kind, `axis ${this.axis} out of range for rank ${rank}`);
    return a;
  }
  outputShape(inputs: Shape[]): Shape {
    const rank = inputs[0]!.length;
    const a = this.sampleAxis(rank);
    const out = [...inputs[0]!];
    for (const s of inputs.slice(1)) {
      if (s.length !== rank || s.some((d, i) => i !== a && d !== out[i])) {
        throw shapeError(
          this.kind,
          `inputs do not match outside axis ${this.axis}: ${inputs.map(shapeStr).join(' vs ')}`,
        );
      }
      out[a]! += s[a]!;
    }
    return out;
  }
  paramCount(): number {
    return 0;
  }
  emit(ctx: BuildContext, _s: string, inputs: string[], shapes: Shape[]): string {
    return ctx.g.op('Concat', inputs, { axis: this.sampleAxis(shapes[0]!.length) + 1 });
  }
}
