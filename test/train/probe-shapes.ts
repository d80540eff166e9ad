/**
 * Test oracle for src/train/shapes.ts: the shapes of every value of a forward graph learned by
 * running it on onnxruntime at the same two sizes of its symbolic dimensions (what training used
 * before onnx/shape inference served it; kept to check that inference gives the same answers).
 */
import { VergeError } from '../../src/errors.ts';
import { allocate, makeModel, type Graph, type Model, isDefaultDomain } from '../../src/onnx/index.ts';
import { Session, type TensorValue } from '../../src/runtime/index.ts';
import { SYMBOLIC_SIZES as PROBE_SIZES, type ShapeMap } from '../../src/train/index.ts';

function probeFeeds(graph: Graph, size: number): Record<string, TensorValue> {
  const inits = new Set(graph.initializers.map((t) => t.name));
  const feeds: Record<string, TensorValue> = {};
  for (const vi of graph.inputs) {
    if (inits.has(vi.name)) continue;
    const t = vi.type;
    if (!t || t.kind !== 'tensor' || !t.shape) {
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `graph input '${vi.name}' has no declared shape; training needs one (symbolic dims allowed)`,
      );
    }
    const dims = t.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : size));
    const n = dims.reduce((a, b) => a * b, 1);
    const data = allocate(t.dtype, n);
    if (data instanceof Float32Array || data instanceof Float64Array)
      for (let i = 0; i < n; i++) data[i] = ((i * 7919) % 17) / 17 - 0.4;
    feeds[vi.name] = { dtype: t.dtype, dims, data };
  }
  return feeds;
}

/** Run `graph` at both probe sizes and record dtype and dims of every value. */
export async function probeShapes(model: Model): Promise<ShapeMap> {
  const graph = model.graph;
  const shapes: ShapeMap = new Map();
  for (const t of graph.initializers)
    shapes.set(t.name, { dtype: t.dtype, dims: [...t.dims], dynamic: t.dims.map(() => false) });
  const names: string[] = [];
  const seen = new Set(shapes.keys());
  for (const vi of graph.inputs) seen.add(vi.name);
  for (const n of graph.nodes) {
    for (const o of n.outputs) {
      if (!o || seen.has(o)) continue;
      seen.add(o);
      names.push(o);
    }
  }
  const probe: Model = makeModel(
    { ...graph, outputs: names.map((name) => ({ name })), valueInfo: [] },
    { opset: model.opsetImports.find((o) => isDefaultDomain(o.domain))?.version },
  );
  probe.opsetImports = model.opsetImports;
  probe.irVersion = Math.max(model.irVersion, 7);
  const results: Record<string, TensorValue>[] = [];
  const session = await Session.create(probe, { threads: 1, graphOptimization: 'disabled' });
  try {
    for (const size of PROBE_SIZES) {
      const feeds = probeFeeds(graph, size);
      const out = await session.run(feeds);
      for (const [k, v] of Object.entries(feeds)) out[k] = v;
      results.push(out);
    }
  } finally {
    await session.release();
  }
  const [a, b] = results as [Record<string, TensorValue>, Record<string, TensorValue>];
  for (const [name, va] of Object.entries(a)) {
    const vb = b[name]!;
    const dynamic = va.dims.map((d, i) => vb.dims.length !== va.dims.length || vb.dims[i] !== d);
    shapes.set(name, { dtype: va.dtype, dims: [...va.dims], dynamic });
  }
  return shapes;
}
