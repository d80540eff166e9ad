/**
 * The federated weight vector of an ONNX model: every float32 initializer, in graph order. The
 * control plane derives it from the model file alone (no training graph needed), the client maps
 * its training state onto it, and both rebuild a model from a vector with `withWeights`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { VergeError } from '../errors.ts';
import { cloneModel, type Model, withMinimumIrVersion } from '../onnx/browser.ts';
import { layoutKey, makeLayout, type WeightLayout } from './weights.ts';

export function modelLayout(model: Model): WeightLayout {
  const floats = model.graph.initializers.filter((t) => t.dtype === 'float32' && t.storage !== 'external');
  if (floats.length === 0) throw new VergeError('E_UNSUPPORTED', 'the model has no float32 weights to train');
  return makeLayout(floats.map((t) => ({ name: t.name, dims: t.dims })));
}

/** sha256 of the layout (names and dims): equal digests mean updates are interchangeable. */
export function layoutDigest(layout: WeightLayout): string {
  return bytesToHex(sha256(new TextEncoder().encode(layoutKey(layout))));
}

export function weightsOf(model: Model, layout: WeightLayout): Float32Array {
  const byName = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const out = new Float32Array(layout.size);
  for (const s of layout.specs) {
    const t = byName.get(s.name);
    if (!t || t.dtype !== 'float32' || t.dims.join(',') !== s.dims.join(','))
      throw new VergeError(
        'E_SHAPE_MISMATCH',
        `the model's '${s.name}' is ${t ? `${t.dtype}[${t.dims.join(', ')}]` : 'missing'}; the federation trains float32[${s.dims.join(', ')}]`,
      );
    out.set(t.data as Float32Array, s.offset);
  }
  return out;
}

/**
 * A copy of `model` whose layout initializers hold `weights`, declaring the lowest IR version its
 * opsets need (every model federated learning writes goes through here).
 */
export function withWeights(model: Model, layout: WeightLayout, weights: Float32Array): Model {
  if (weights.length !== layout.size)
    throw new VergeError('E_SHAPE_MISMATCH', `weights have ${weights.length} values; the model has ${layout.size}`);
  const m = cloneModel(model);
  const bySpec = new Map(layout.specs.map((s) => [s.name, s]));
  m.graph.initializers = m.graph.initializers.map((t) => {
    const s = bySpec.get(t.name);
    return s ? { ...t, data: weights.slice(s.offset, s.offset + s.size), storage: 'raw' as const } : t;
  });
  return withMinimumIrVersion(m);
}
