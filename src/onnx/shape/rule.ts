/**
 * What a shape-inference rule sees and returns. One rule per op (src/onnx/shape/<Op>.ts), found
 * through the registry; the engine (infer.ts) walks the graph in topological order.
 */
import type { DType } from '../dtype.ts';
import type { Attribute, Dim, Graph, Node, Tensor, TensorType } from '../ir.ts';

/**
 * The known value of a small integer tensor (a shape, axes, a size), with symbolic entries kept:
 * Shape(x) of x: ['batch', 3, 224, 224] has values ['batch', 3, 224, 224]. `scalar`: rank 0.
 */
export interface SymbolicValue {
  values: Dim[];
  scalar: boolean;
}

export interface ShapeContext {
  readonly node: Node;
  /** Version of the default-domain opset the model imports (rules depend on it, e.g. Squeeze axes). */
  readonly opset: number;
  /** Type of input i; undefined when the input is omitted ('') or its type is unknown. */
  input(i: number): TensorType | undefined;
  /** Whether input i is given (not omitted with ''). */
  has(i: number): boolean;
  shape(i: number): Dim[] | undefined;
  dtype(i: number): DType | undefined;
  /** The constant tensor behind input i (an initializer or a Constant node's value). */
  constant(i: number): Tensor | undefined;
  /** The value of input i when it is a known small integer tensor (possibly with symbolic entries). */
  value(i: number): SymbolicValue | undefined;
  /** value(i) when every entry is a number. */
  numbers(i: number): number[] | undefined;
  attr(name: string): Attribute | undefined;
  int(name: string): number | undefined;
  int(name: string, fallback: number): number;
  ints(name: string): number[] | undefined;
  float(name: string): number | undefined;
  string(name: string): string | undefined;
  string(name: string, fallback: string): string;
  /** Infer the output types of a subgraph (If branch, Loop/Scan body) given its input types. */
  subgraph(g: Graph, inputTypes: (TensorType | undefined)[]): (TensorType | undefined)[];
}

/** Output types in the order of node.outputs; a single type means output 0. undefined = unknown. */
export type InferResult = (TensorType | undefined)[] | TensorType | undefined;

export interface ShapeRule {
  /** ONNX op type, e.g. 'Conv'. */
  op: string;
  /** Domain; default '' (ai.onnx). */
  domain?: string;
  infer(ctx: ShapeContext): InferResult;
  /**
   * The value of output `index` when it can be known at inference time (data propagation), for
   * ops that compute shapes: Shape, Gather, Concat, Unsqueeze, Slice, Cast, Constant...
   */
  value?(ctx: ShapeContext, index: number): SymbolicValue | undefined;
}

export function tensorType(dtype: DType, shape?: Dim[]): TensorType {
  return shape ? { kind: 'tensor', dtype, shape } : { kind: 'tensor', dtype };
}
