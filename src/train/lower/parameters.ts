/**
 * Helpers around lowering: discovering value shapes by running the model once, and moving
 * trained parameters from a lowered model back into the original (fused) one.
 */
import { VergeError } from '../../errors.ts';
import { cloneModel, isDefaultDomain, type Dim, type Model } from '../../onnx/browser.ts';
import { Session, type TensorValue } from '../../runtime/index.ts';
import { hasRecurrent, lowerRecurrent } from './recurrent.ts';

/**
 * Concrete shapes of named intermediate values for these feeds: the values are exposed as extra
 * graph outputs and the model is run once on onnxruntime.
 */
export async function probeValueShapes(
  model: Model,
  feeds: Record<string, TensorValue>,
  names: string[],
): Promise<Record<string, Dim[]>> {
  if (names.length === 0) return {};
  const probe = cloneModel(model);
  const present = new Set(probe.graph.outputs.map((o) => o.name));
  for (const n of names) if (!present.has(n)) probe.graph.outputs.push({ name: n });
  const session = await Session.create(probe);
  try {
    const out = await session.run(feeds, names);
    const shapes: Record<string, Dim[]> = {};
    for (const n of names) shapes[n] = out[n]!.dims;
    return shapes;
  } finally {
    await session.release();
  }
}

/**
 * Copy every initializer of `source` into `target` where a target initializer has the same name,
 * dtype and dims (e.g. trained GRU weights from the lowered model back into the fused one).
 * Returns the new model and how many tensors were copied.
 */
export function transferParameters(target: Model, source: Model): { model: Model; copied: number } {
  const out = cloneModel(target);
  const byName = new Map(source.graph.initializers.map((t) => [t.name, t]));
  let copied = 0;
  out.graph.initializers = out.graph.initializers.map((t) => {
    const s = byName.get(t.name);
    if (!s) return t;
    if (s.dtype !== t.dtype || s.dims.join(',') !== t.dims.join(',')) {
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `parameter '${t.name}' is ${s.dtype}[${s.dims}] in the trained model but ${t.dtype}[${t.dims}] in the target`,
      );
    }
    copied++;
    return { ...t, data: s.data.slice() as typeof t.data, storage: 'raw' };
  });
  return { model: out, copied };
}

/**
 * lowerRecurrent for a model whose recurrent inputs have no declared sequence length (e.g. a
 * PyTorch export, where GRU reads a Transpose output): their shapes are probed by running the
 * model once on `feeds` (a sample batch shaped like the real data), then the nodes are lowered.
 */
export async function lowerRecurrentFor(model: Model, feeds: Record<string, TensorValue>): Promise<Model> {
  if (!hasRecurrent(model)) return model;
  const xs = model.graph.nodes
    .filter((n) => (n.opType === 'GRU' || n.opType === 'LSTM') && isDefaultDomain(n.domain))
    .map((n) => n.inputs[0]!);
  const graphInputs = new Set(model.graph.inputs.map((i) => i.name));
  const shapes = await probeValueShapes(
    model,
    feeds,
    xs.filter((x) => !graphInputs.has(x)),
  );
  for (const x of xs) if (graphInputs.has(x) && feeds[x]) shapes[x] = feeds[x]!.dims;
  return lowerRecurrent(model, { shapes });
}
