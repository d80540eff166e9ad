/**
 * The lowest IR version a model can declare: what its default-domain opset needs (irVersionForOpset,
 * ONNX's release table) and what the features it uses need (initializers outside the inputs, sparse
 * initializers, training info, functions, newer element types). Writing that version,
 * not the newest, lets older readers — the ONNX 1.12 checker reads IR ≤ 8 — open every model
 * whose opset they know.
 */
import type { DType } from './dtype.ts';
import { irVersionForOpset, isDefaultDomain, type Model } from './ir.ts';

/** IR versions that introduced element types (float8: IR 9, 4-bit ints: IR 10, float4/e8m0: IR 11). */
function irForDtype(d: DType): number {
  if (d === 'float4e2m1' || d === 'float8e8m0' || d === 'int2' || d === 'uint2') return 11;
  if (d === 'int4' || d === 'uint4') return 10;
  if (d.startsWith('float8')) return 9;
  return 3;
}

/** The lowest IR version `model` can declare (its opset, and the IR features and types it uses). */
export function minimumIrVersion(model: Model): number {
  let ir = 3;
  for (const o of model.opsetImports) if (isDefaultDomain(o.domain)) ir = Math.max(ir, irVersionForOpset(o.version));
  const g = model.graph;
  // IR 4: initializers need not be graph inputs; 6: sparse initializers; 7: training info; 8: functions
  const inputs = new Set(g.inputs.map((i) => i.name));
  if (g.initializers.some((t) => !inputs.has(t.name))) ir = Math.max(ir, 4);
  if (g.sparseInitializers.length > 0) ir = Math.max(ir, 6);
  if (model.trainingInfo?.length) ir = Math.max(ir, 7);
  if (model.functions?.length) ir = Math.max(ir, 8);
  for (const t of g.initializers) ir = Math.max(ir, irForDtype(t.dtype));
  for (const v of [...g.inputs, ...g.outputs, ...g.valueInfo])
    if (v.type?.kind === 'tensor') ir = Math.max(ir, irForDtype(v.type.dtype));
  return ir;
}

/** `model` declaring its lowest IR version (a shallow copy; the graph is shared). */
export function withMinimumIrVersion(model: Model): Model {
  return { ...model, irVersion: minimumIrVersion(model) };
}
