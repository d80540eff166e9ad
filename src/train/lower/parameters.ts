/**
 * Helpers around lowering: the shapes of recurrent inputs for a sample batch (onnx/shape
 * inference), and moving trained parameters from a lowered model back into the original (fused) one.
 */
import { VergeError } from '../../errors.ts';
import { cloneModel, inferShapes, isDefaultDomain, type Dim, type Model } from '../../onnx/browser.ts';
import type { TensorValue } from '../../runtime/index.ts';
import type { Formulations } from '../grad/formulations.ts';
import { hasRecurrent, lowerRecurrent } from './recurrent.ts';

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
 * PyTorch export, where GRU reads a Transpose output): their shapes are inferred (onnx/shape) with
 * the graph inputs shaped like `feeds` (a sample batch shaped like the real data), then the nodes
 * are lowered — except the GRUs the fused gradient takes when the training's `formulations` are
 * given (see lowerRecurrent). (Async: it ran the model on onnxruntime before; callers await it.)
 */
export async function lowerRecurrentFor(
  model: Model,
  feeds: Record<string, TensorValue>,
  formulations?: Partial<Formulations>,
): Promise<Model> {
  if (!hasRecurrent(model)) return model;
  const xs = model.graph.nodes
    .filter((n) => (n.opType === 'GRU' || n.opType === 'LSTM') && isDefaultDomain(n.domain))
    .map((n) => n.inputs[0]!);
  const inputShapes = new Map(Object.entries(feeds).map(([name, v]) => [name, v.dims]));
  const types = inferShapes(model, { trustDeclared: false, inputShapes });
  const shapes: Record<string, Dim[]> = {};
  for (const x of xs) {
    const shape = types.get(x)?.shape;
    if (shape?.every((d) => typeof d === 'number')) shapes[x] = shape;
  }
  return lowerRecurrent(model, { shapes, ...(formulations ? { formulations } : {}) });
}
