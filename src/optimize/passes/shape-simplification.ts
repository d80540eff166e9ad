/**
 * Shape-op simplification: shape computations whose result is known statically become constants.
 * - A Reshape whose target shape is computed (Shape -> Gather -> Unsqueeze -> Concat, as
 *   `x.view(x.size(0), -1)` exports) gets a constant target: a static dim stays a number, a dynamic
 *   dim copied from the same position of the data becomes 0 ("keep"), and one remaining dim -1.
 * - Any other computed shape value that is fully static becomes an initializer.
 * The chains that fed them become dead and are removed.
 */
import {
  cloneModel,
  dataInputs,
  inferShapesAndValues,
  isDefaultDomain,
  makeTensor,
  type Dim,
  type Model,
} from '../../onnx/browser.ts';
import { constantNodesToInitializers } from './constant-folding.ts';
import { eliminateDeadNodesInPlace } from './dead-code.ts';
import { GraphIndex, intAttr } from './graph-index.ts';

/**
 * Shapes and tracked integer values of every value (onnx/shape). Unknown dims of the graph
 * inputs get distinct symbols ('?0', '?1', ...) so that a dim read with Shape(x)[i] is recognised
 * as x's dim i; declared value_info is not trusted (passes may have changed shapes).
 */
export function symbolicShapes(model: Model): ReturnType<typeof inferShapesAndValues> {
  let fresh = 0;
  const inputShapes = new Map<string, Dim[]>();
  for (const inp of dataInputs(model.graph)) {
    const t = inp.type;
    if (t?.kind === 'tensor' && t.shape)
      inputShapes.set(
        inp.name,
        t.shape.map((d) => (d === null || d === '' ? `?${fresh++}` : d)),
      );
  }
  // An initializer that is also a graph input is a default a caller may override: not a constant here.
  const fed = new Set(model.graph.inputs.map((v) => v.name));
  const initializers = model.graph.initializers.filter((t) => !fed.has(t.name));
  return inferShapesAndValues(
    { ...model, graph: { ...model.graph, initializers } },
    { trustDeclared: false, inputShapes },
  );
}

export function simplifyShapeOps(model: Model): Model {
  const out = cloneModel(model);
  const g = out.graph;
  // Exporters write shape constants (gather indices, the -1 of a flatten) as Constant nodes.
  constantNodesToInitializers(g);
  const { types, values } = symbolicShapes(out);
  const index = new GraphIndex(g);
  const used = new Set<string>([
    ...g.initializers.map((t) => t.name),
    ...g.nodes.flatMap((n) => [...n.inputs, ...n.outputs]),
  ]);
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
  let changed = false;

  for (const n of g.nodes) {
    if (!isDefaultDomain(n.domain) || n.opType !== 'Reshape') continue;
    const target = n.inputs[1];
    if (!target || index.constant(target) || !index.producer.has(target)) continue;
    const val = values.get(target)?.values;
    const data = types.get(n.inputs[0]!)?.shape;
    if (!val) continue;
    const resolved = resolveReshapeTarget(val, data, intAttr(n, 'allowzero', 0) === 1);
    if (!resolved) continue;
    const name = fresh(`${n.name || 'reshape'}_shape`);
    g.initializers.push(makeTensor(name, 'int64', [resolved.length], resolved));
    n.inputs = [n.inputs[0]!, name];
    changed = true;
  }

  // Fully static values produced by computation (e.g. Shape of a static tensor) become constants.
  for (const n of g.nodes) {
    for (let k = 0; k < n.inputs.length; k++) {
      const name = n.inputs[k]!;
      if (!name || index.constant(name) || !index.producer.has(name)) continue;
      const val = values.get(name)?.values;
      const type = types.get(name);
      const shape = type?.shape;
      if (!val || !shape || !val.every((d) => typeof d === 'number') || shape.some((d) => typeof d !== 'number'))
        continue;
      if (index.producer.get(name)!.opType === 'Constant') continue;
      // Tracked values are integer shape values; anything else is left to constant folding.
      if (type.dtype !== 'int64' && type.dtype !== 'int32') continue;
      const constName = fresh(`${name}_static`);
      g.initializers.push(makeTensor(constName, type.dtype, shape as number[], val as number[]));
      n.inputs[k] = constName;
      changed = true;
    }
  }
  if (changed) eliminateDeadNodesInPlace(g);
  return out;
}

/** A constant Reshape target equivalent to `val` for data of shape `data`, or undefined. */
export function resolveReshapeTarget(
  val: readonly Dim[],
  data: readonly Dim[] | undefined,
  allowZero: boolean,
): number[] | undefined {
  const out: (number | undefined)[] = val.map((d, k) => {
    if (typeof d === 'number') return d;
    // Same symbol at the same position of the data: "copy this dim" is what 0 means (null: unknown).
    if (!allowZero && data && typeof d === 'string' && data[k] === d) return 0;
    return undefined;
  });
  const unknown = out.filter((d) => d === undefined).length;
  if (unknown === 0) return out as number[];
  if (unknown === 1 && !out.includes(-1)) return out.map((d) => (d === undefined ? -1 : d));
  return undefined;
}
