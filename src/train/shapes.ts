/**
 * Shapes of every value of a forward graph, from onnx/shape inference (the one shape engine) run
 * at two sizes of its symbolic dimensions. Gradient rules need ranks and static sizes (to pick the
 * reduction axes of a broadcast gradient, the output padding of a transposed convolution, …);
 * a dim that differs between the two runs follows the symbolic input sizes (e.g. the batch).
 */
import { VergeError } from '../errors.ts';
import { type DType, type Dim, type Graph, type Model, inferShapes } from '../onnx/browser.ts';

/** The two sizes given to symbolic dimensions; > 1 so a broadcast dim (1) is never confused with them. */
export const SYMBOLIC_SIZES = Object.freeze([2, 3] as const);

export interface ValueShape {
  dtype: DType;
  /** Sizes at the first symbolic size. */
  dims: number[];
  /** dynamic[i]: dimension i changed with the symbolic input sizes (e.g. follows the batch). */
  dynamic: boolean[];
}

/** Values whose shape inference could not decide (an op without a shape rule, a data-dependent size) are absent. */
export type ShapeMap = Map<string, ValueShape>;

export function isStatic(s: ValueShape): boolean {
  return !s.dynamic.some(Boolean);
}

/** The shape of `name`, or a clear error when inference could not decide it. */
export function shapeOf(shapes: ShapeMap, name: string): ValueShape {
  const s = shapes.get(name);
  if (!s) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `the shape of '${name}' could not be inferred (an op on its path has no rule in src/onnx/shape/ops, or its size depends on data)`,
    );
  }
  return s;
}

function inputShapes(graph: Graph, size: number): Map<string, Dim[]> {
  const inits = new Set(graph.initializers.map((t) => t.name));
  const shapes = new Map<string, Dim[]>();
  for (const vi of graph.inputs) {
    if (inits.has(vi.name)) continue;
    const t = vi.type;
    if (!t || t.kind !== 'tensor' || !t.shape) {
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `graph input '${vi.name}' has no declared shape; training needs one (symbolic dims allowed)`,
      );
    }
    shapes.set(
      vi.name,
      t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : size)),
    );
  }
  return shapes;
}

function numeric(shape: readonly Dim[] | undefined): shape is number[] {
  return !!shape && shape.every((d) => typeof d === 'number');
}

/** Infer dtype and dims of every value of `model` at both symbolic sizes. */
export function inferValueShapes(model: Model): ShapeMap {
  const [a, b] = SYMBOLIC_SIZES.map((size) =>
    inferShapes(model, { trustDeclared: false, inputShapes: inputShapes(model.graph, size) }),
  ) as [ReturnType<typeof inferShapes>, ReturnType<typeof inferShapes>];
  const shapes: ShapeMap = new Map();
  for (const [name, ta] of a) {
    const tb = b.get(name);
    if (!numeric(ta.shape) || !numeric(tb?.shape) || tb.dtype !== ta.dtype) continue;
    const sb = tb.shape;
    const dynamic = ta.shape.map((d, i) => sb.length !== ta.shape!.length || sb[i] !== d);
    shapes.set(name, { dtype: ta.dtype, dims: [...ta.shape], dynamic });
  }
  return shapes;
}
