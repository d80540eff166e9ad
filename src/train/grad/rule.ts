/**
 * The shape of a gradient rule and the context it is given. A rule turns the gradients of a
 * node's outputs into gradients of its inputs by emitting standard ONNX nodes through the
 * context's GraphBuilder (so a training graph runs on any onnxruntime build: it has no training
 * kernels). Rules that behave differently in training (BatchNormalization, Dropout) also give a
 * `trainingForward` that rewrites the node into primitives, whose gradients come from other rules.
 */
import { VergeError } from '../../errors.ts';
import {
  makeTensor,
  type GraphBuilder,
  dtypeCode,
  isFloat,
  type DType,
  type Attribute,
  type Node,
  type Tensor,
} from '../../onnx/browser.ts';
import { isStatic, type ShapeMap, type ValueShape } from '../shapes.ts';
import { DEFAULT_FORMULATIONS, type Formulations } from './formulations.ts';

export interface GradRule {
  readonly op: string;
  /** Gradients of the inputs (index-aligned with node.inputs; undefined = none / not needed). */
  grad?: (ctx: GradContext) => (string | undefined)[];
  /** Training-mode forward: emit replacement nodes producing node.outputs. */
  trainingForward?: (ctx: LowerContext) => void;
}

/** What a rule reads about the graph: attributes, constant inputs and probed shapes. */
export class NodeView {
  constructor(
    readonly g: GraphBuilder,
    readonly node: Node,
    protected readonly shapes: ShapeMap,
    protected readonly constants: Map<string, Tensor>,
    readonly opset: number,
    /** Which formulation of the costliest gradients to emit (an option of the caller, see formulations.ts). */
    readonly formulations: Readonly<Formulations> = DEFAULT_FORMULATIONS,
  ) {}

  input(i: number): string {
    return this.node.inputs[i] ?? '';
  }
  output(i: number): string {
    return this.node.outputs[i] ?? '';
  }
  has(i: number): boolean {
    return !!this.node.inputs[i];
  }
  attr(name: string): Attribute | undefined {
    return this.node.attributes[name];
  }
  attrInt(name: string, def: number): number {
    const a = this.node.attributes[name];
    return a && a.type === 'int' ? a.value : def;
  }
  attrFloat(name: string, def: number): number {
    const a = this.node.attributes[name];
    return a && (a.type === 'float' || a.type === 'int') ? a.value : def;
  }
  attrInts(name: string): number[] | undefined {
    const a = this.node.attributes[name];
    return a && a.type === 'ints' ? [...a.value] : undefined;
  }
  attrString(name: string, def: string): string {
    const a = this.node.attributes[name];
    return a && a.type === 'string' ? a.value : def;
  }
  /** Values of a constant input (initializer or Constant node), or undefined when computed. */
  constInts(name: string): number[] | undefined {
    const t = this.constants.get(name);
    if (!t) return undefined;
    return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
  }
  constFloats(name: string): number[] | undefined {
    return this.constInts(name);
  }
  shape(name: string): ValueShape {
    if (!this.shapes.has(name)) {
      throw new VergeError(
        'E_UNSUPPORTED',
        `no shape inferred for '${name}' (node ${this.node.name}): an op before it has no rule in src/onnx/shape/ops, or its size depends on data`,
      );
    }
    return this.shapes.get(name)!;
  }
  rank(name: string): number {
    return this.shape(name).dims.length;
  }
  dims(name: string): number[] {
    return this.shape(name).dims;
  }
  dtype(name: string): DType {
    return this.shape(name).dtype;
  }
  /** Float dtype the node computes in: its first float input's (Where's condition is bool), else its output's. */
  get floatType(): DType {
    for (const i of this.node.inputs) {
      const s = i ? this.shapes.get(i) : undefined;
      if (s && isFloat(s.dtype)) return s.dtype;
    }
    return this.dtype(this.output(0));
  }
  /** Normalize a possibly negative axis against a rank. */
  axis(a: number, rank: number): number {
    return a < 0 ? a + rank : a;
  }
  fail(message: string): never {
    throw new VergeError('E_UNSUPPORTED', `${this.node.opType} node '${this.node.name}': ${message}`);
  }

  // ---- small emitters shared by many rules ----
  op(opType: string, inputs: string[], attrs: Parameters<GraphBuilder['op']>[2] = {}): string {
    return this.g.op(opType, inputs, attrs);
  }
  scalar(v: number, dtype: DType = this.floatType): string {
    return this.g.scalar(v, dtype, 'grad_c');
  }
  ints(values: number[]): string {
    return this.g.constInt64(values, [values.length], 'grad_i');
  }
  /** Cast to the node's float type (masks from comparisons). */
  toFloat(v: string, dtype: DType = this.floatType): string {
    return this.op('Cast', [v], { to: dtypeCode(dtype) });
  }
  /** The shape of `name` as an int64 tensor: a constant when static, else a Shape node. */
  shapeOf(name: string): string {
    const s = this.shape(name);
    return isStatic(s) ? this.ints(s.dims) : this.g.op('Shape', [name]);
  }
  /** Reshape `v` to the shape of `like`. */
  reshapeLike(v: string, like: string): string {
    const s = this.shape(like);
    if (isStatic(s)) return this.op('Reshape', [v, this.ints(s.dims)]);
    // Keep static dims, let one dynamic dim be inferred (-1) when there is exactly one.
    const dyn = s.dynamic.filter(Boolean).length;
    if (dyn === 1) return this.op('Reshape', [v, this.ints(s.dims.map((d, i) => (s.dynamic[i] ? -1 : d)))]);
    return this.op('Reshape', [v, this.g.op('Shape', [like])]);
  }
  /**
   * Sum a broadcast gradient `dy` back to the shape of input `x` (numpy broadcasting rules).
   * Reduction axes come from the probed shapes, so no shape arithmetic runs per step.
   */
  sumToShape(dy: string, x: string, dyShape: ValueShape = this.shape(this.output(0))): string {
    const sx = this.shape(x);
    const ry = dyShape.dims.length;
    const rx = sx.dims.length;
    const lead = ry - rx;
    const axes: number[] = [];
    for (let i = 0; i < ry; i++) {
      if (i < lead) {
        axes.push(i);
        continue;
      }
      const j = i - lead;
      const xIsOne = sx.dims[j] === 1 && !sx.dynamic[j];
      const yIsOne = dyShape.dims[i] === 1 && !dyShape.dynamic[i];
      if (xIsOne && !yIsOne) axes.push(i);
    }
    if (axes.length === 0) return dy;
    // Only leading axes (a bias added to a batch): one ReduceSum without the kept dims to squeeze.
    if (axes.length === lead) return this.op('ReduceSum', [dy, this.ints(axes)], { keepdims: 0 });
    let r = this.op('ReduceSum', [dy, this.ints(axes)], { keepdims: 1 });
    if (lead > 0) r = this.op('Squeeze', [r, this.ints(Array.from({ length: lead }, (_, i) => i))]);
    return r;
  }
}

export class GradContext extends NodeView {
  constructor(
    g: GraphBuilder,
    node: Node,
    shapes: ShapeMap,
    constants: Map<string, Tensor>,
    opset: number,
    /** Upstream gradients, index-aligned with node.outputs. */
    readonly dys: (string | undefined)[],
    private readonly needs: boolean[],
    formulations?: Readonly<Formulations>,
  ) {
    super(g, node, shapes, constants, opset, formulations);
  }
  /** Does input i need a gradient? Rules skip work (e.g. a first layer's input gradient) when not. */
  needsGrad(i: number): boolean {
    return this.needs[i] ?? false;
  }
  /** Upstream gradient of output i, or zeros of that output's shape when none flows. */
  dy(i = 0): string {
    const d = this.dys[i];
    if (d) return d;
    return this.zerosLike(this.output(i));
  }
  /**
   * dY where the boolean `mask` holds, 0 elsewhere (activation gradients): dY · Cast(mask), or
   * Where(mask, dY, 0) under formulation activationMask 'where' (one pass fewer, no float mask).
   */
  maskGrad(mask: string, dy = this.dy()): string {
    if (this.formulations.activationMask === 'where') return this.op('Where', [mask, dy, this.scalar(0)]);
    return this.op('Mul', [dy, this.toFloat(mask)]);
  }
  hasDy(i: number): boolean {
    return !!this.dys[i];
  }
  zerosLike(name: string): string {
    const s = this.shape(name);
    return this.op('ConstantOfShape', [this.shapeOf(name)], { value: makeTensor('value', s.dtype, [1], [0]) });
  }
}

/** How layers that behave differently while training run: an option of the caller. */
export interface TrainingModes {
  /**
   * BatchNormalization normalizes with the batch's statistics and updates its running statistics
   * (true, the default: PyTorch's model.train()), or normalizes with its running statistics, which
   * stay fixed, as at inference (false: PyTorch's eval-mode BN, Keras' frozen BN).
   */
  trainBatchNorm?: boolean;
}

/** Gradient of a composite: given a GradContext over the ORIGINAL node (its inputs, outputs, dys). */
export type CompositeGrad = (ctx: GradContext) => (string | undefined)[];

/** Context for training-mode rewrites: may add state that the training step updates. */
export class LowerContext extends NodeView {
  /** Set by `composite()`: the emitted nodes are differentiated as one, by this rule. */
  compositeGrad?: CompositeGrad;
  constructor(
    g: GraphBuilder,
    node: Node,
    shapes: ShapeMap,
    constants: Map<string, Tensor>,
    opset: number,
    /** Register `next` as the new value of initializer `name` after each step (BN running stats). */
    readonly updateState: (name: string, next: string) => void,
    readonly seed: number,
    formulations?: Readonly<Formulations>,
    readonly modes: Readonly<TrainingModes> = {},
    /** Register initializer `name` as a fixed buffer: read, never trained (frozen BN running stats). */
    readonly fixBuffer: (name: string) => void = () => {},
  ) {
    super(g, node, shapes, constants, opset, formulations);
  }
  /**
   * Differentiate the nodes this rewrite emits as ONE unit with `grad` (which may read any value
   * the rewrite computed, e.g. a normalized input or im2col patches) instead of through each
   * primitive's rule: a fused formula that keeps fewer tensors alive or computes less.
   */
  composite(grad: CompositeGrad): void {
    this.compositeGrad = grad;
  }
}
