/**
 * The layer abstraction: a Layer maps per-sample input shapes to an output shape and, at build
 * time, emits ONNX nodes and initializers through a GraphBuilder. Calling `layer.apply(x)` on a
 * SymbolicTensor records an edge of the (functional) network; nothing is computed until build().
 */
import { VergeError } from '../errors.ts';
import { type DType, makeTensor, type GraphBuilder } from '../onnx/browser.ts';
import { initValues, type Fans, type InitName, type Uniform } from './init.ts';

/** Shape of one sample (the batch dimension is implicit and symbolic). */
export type Shape = number[];

export interface BuildContext {
  g: GraphBuilder;
  rand: Uniform;
  /** Emit training behaviour (BatchNormalization training_mode=1, Dropout active). */
  training: boolean;
  /** Parameter names already created for a layer (a layer applied twice shares its weights). */
  params: Map<Layer, Map<string, string>>;
}

/** A value in a network under construction: its per-sample shape and where it comes from. */
export class SymbolicTensor {
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly source: { kind: 'input'; name: string } | { kind: 'layer'; layer: Layer; inputs: SymbolicTensor[] },
  ) {}
}

let anonymousCounter = 0;

export abstract class Layer {
  /** Short type name used for default layer names and summaries (e.g. 'conv2d'). */
  abstract readonly kind: string;
  /** Explicit name; otherwise the network assigns `${kind}_${n}` at build time. */
  readonly explicitName?: string;
  /** Unique id, for stable ordering of anonymous layers. */
  readonly id = ++anonymousCounter;

  constructor(name?: string) {
    if (name !== undefined) this.explicitName = name;
  }

  /** Output shape for these input shapes; throws E_SHAPE_MISMATCH when they do not fit. */
  abstract outputShape(inputs: Shape[]): Shape;
  /** Number of trainable parameters (and running statistics) this layer creates. */
  abstract paramCount(inputs: Shape[]): number;
  /** Emit the nodes; `inputs` are value names, returns the output value name. */
  abstract emit(ctx: BuildContext, scope: string, inputs: string[], shapes: Shape[]): string;
  /** Output element type (float32 unless the layer says otherwise). */
  outputDType(_inputs: DType[]): DType {
    return 'float32';
  }
  /** How many inputs the layer takes (undefined: any number ≥ 1). */
  readonly arity: number | undefined = 1;

  apply(x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
    const inputs = Array.isArray(x) ? x : [x];
    if (this.arity !== undefined && inputs.length !== this.arity) {
      throw new VergeError('E_BAD_ARGUMENT', `${this.kind} takes ${this.arity} input(s), got ${inputs.length}`);
    }
    if (inputs.length === 0) throw new VergeError('E_BAD_ARGUMENT', `${this.kind} needs at least one input`);
    const shape = this.outputShape(inputs.map((i) => i.shape));
    return new SymbolicTensor(shape, this.outputDType(inputs.map((i) => i.dtype)), {
      kind: 'layer',
      layer: this,
      inputs,
    });
  }

  /** Create (or reuse) a float32 parameter initializer named `${scope}.${param}`. */
  protected param(ctx: BuildContext, scope: string, param: string, dims: number[], init: InitName, fans: Fans): string {
    let mine = ctx.params.get(this);
    if (!mine) ctx.params.set(this, (mine = new Map()));
    const existing = mine.get(param);
    if (existing) return existing;
    const count = dims.reduce((a, b) => a * b, 1);
    const name = ctx.g.initializer(`${scope}.${param}`, 'float32', dims, initValues(init, count, fans, ctx.rand));
    mine.set(param, name);
    return name;
  }

  /** Parameter initializer with given values (running statistics, constants that train). */
  protected paramValues(ctx: BuildContext, scope: string, param: string, dims: number[], values: Float32Array): string {
    let mine = ctx.params.get(this);
    if (!mine) ctx.params.set(this, (mine = new Map()));
    const existing = mine.get(param);
    if (existing) return existing;
    const name = ctx.g.initializer(`${scope}.${param}`, 'float32', dims, values);
    mine.set(param, name);
    return name;
  }
}

export function shapeStr(s: Shape): string {
  return `[${s.join(', ')}]`;
}

export function shapeError(kind: string, message: string): VergeError {
  return new VergeError('E_SHAPE_MISMATCH', `${kind}: ${message}`);
}

export function product(s: readonly number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

/**
 * A fixed float constant as a Constant node, not an initializer: training treats float
 * initializers as parameters, and these values (standardization statistics, GELU coefficients,
 * clip bounds) must stay what they are.
 */
export function fixedConstant(g: GraphBuilder, prefix: string, values: number[], dims: number[] = []): string {
  const name = g.uniqueName(prefix);
  g.node('Constant', [], { value: makeTensor(name, 'float32', dims, values) }, { outputs: [name] });
  return name;
}
