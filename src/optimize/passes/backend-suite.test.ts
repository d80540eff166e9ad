/**
 * The pass pipeline over every model of the ONNX backend suite (1,072: single-op tests, their
 * `_expanded` function bodies full of Constant and shape arithmetic, and the PyTorch-exported
 * networks), one pass at a time: no pass may throw, and every model a pass changed must load in
 * onnxruntime and give the original model's outputs (float within 1e-5, others exactly).
 * Prints how many models each pass changed and why folding left nodes alone.
 */
import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../onnx/codec.ts';
import { loadModel } from '../../onnx/io.ts';
import type { Model } from '../../onnx/ir.ts';
import { isOrtDType, type TensorValue } from '../../runtime/tensor.ts';
import {
  backendSuiteSkipReason,
  listSuiteModels,
  readDataSets,
  type SuiteModel,
} from '../../../test/onnx/backend-suite.ts';
import { maxRelDiff, runModel } from '../../../test/optimize/helpers.ts';
import { DEFAULT_PASSES, optimizeGraph, type GraphPassName } from './pipeline.ts';

const PASS_TOLERANCE = 1e-5;
/** Outputs that differ between any two runs: such models are checked for loading, not values. */
const NONDETERMINISTIC = /^(Random|Bernoulli$|Multinomial$|Dropout$)/;

const skip = backendSuiteSkipReason();
if (skip && process.env.CI === 'true') throw new Error(skip);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/** Feeds of the first data set, or undefined when a model's I/O is not plain tensors. */
function suiteFeeds(sm: SuiteModel, model: Model): Record<string, TensorValue> | undefined {
  const inits = new Set(model.graph.initializers.map((t) => t.name));
  const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
  const io = [...inputs, ...model.graph.outputs];
  if (!io.every((v) => v.type?.kind === 'tensor' && isOrtDType(v.type.dtype))) return undefined;
  const data = readDataSets(sm)[0];
  if (!data || data.inputs.length !== inputs.length) return undefined;
  const names = inputs.map((i) => i.name);
  return Object.fromEntries(
    data.inputs.map((t, k) => [t.name && names.includes(t.name) ? t.name : names[k]!, t as TensorValue]),
  );
}

/** First difference between two outputs, or undefined. */
function difference(a: TensorValue, b: TensorValue | undefined): string | undefined {
  if (!b) return 'missing';
  if (a.dtype !== b.dtype || a.dims.join() !== b.dims.join()) return `${b.dtype} [${b.dims}] vs ${a.dtype} [${a.dims}]`;
  if (a.dtype === 'float32' || a.dtype === 'float64') {
    const d = maxRelDiff(a, b);
    return d < PASS_TOLERANCE ? undefined : `differs by ${d}`;
  }
  const x = a.data as ArrayLike<unknown>;
  const y = b.data as ArrayLike<unknown>;
  for (let i = 0; i < x.length; i++) {
    const same = x[i] instanceof Uint8Array ? sameBytes(x[i] as Uint8Array, y[i] as Uint8Array) : x[i] === y[i];
    if (!same) return `element ${i}: ${String(y[i])} vs ${String(x[i])}`;
  }
  return undefined;
}

describe.skipIf(!!skip)(`graph passes over the ONNX backend suite${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('keeps the outputs of every model a pass changed, and counts the models each pass changed', async () => {
    const models = listSuiteModels();
    expect(models.length).toBeGreaterThan(1000);
    const changedBy = Object.fromEntries(DEFAULT_PASSES.map((p) => [p, 0])) as Record<GraphPassName, number>;
    const notFolded: Record<string, number> = {};
    const failures: string[] = [];
    let changed = 0;
    let compared = 0;
    let nodesBefore = 0;
    let nodesAfter = 0;
    for (const sm of models) {
      const model = loadModel(sm.modelPath);
      let current = model;
      let bytes = encodeModel(model);
      try {
        for (const pass of DEFAULT_PASSES) {
          const { model: next, passes } = await optimizeGraph(current, { passes: [pass] });
          for (const s of passes[0]!.skipped ?? [])
            notFolded[`${s.op}: ${s.reason}`] = (notFolded[`${s.op}: ${s.reason}`] ?? 0) + 1;
          const nextBytes = encodeModel(next);
          if (!sameBytes(nextBytes, bytes)) changedBy[pass]++;
          current = next;
          bytes = nextBytes;
        }
      } catch (e) {
        failures.push(`${sm.id}: ${(e as Error).message}`);
        continue;
      }
      nodesBefore += model.graph.nodes.length;
      nodesAfter += current.graph.nodes.length;
      if (sameBytes(bytes, encodeModel(model))) continue;
      changed++;
      const feeds = suiteFeeds(sm, model);
      if (!feeds) continue;
      let expected: Record<string, TensorValue>;
      try {
        expected = await runModel(model, feeds);
      } catch {
        continue; // onnxruntime cannot run the original (allow-listed in the conformance test)
      }
      try {
        const got = await runModel(current, feeds);
        if (model.graph.nodes.some((n) => NONDETERMINISTIC.test(n.opType))) continue;
        for (const [k, v] of Object.entries(expected)) {
          const d = difference(v, got[k]);
          if (d) failures.push(`${sm.id}: output ${k}: ${d}`);
        }
        compared++;
      } catch (e) {
        failures.push(`${sm.id}: the optimized model does not run: ${(e as Error).message}`);
      }
    }
    console.log(
      `backend suite: ${models.length} models, ${changed} changed, ${compared} compared with the original; ` +
        `nodes ${nodesBefore} -> ${nodesAfter}\nmodels changed per pass: ${JSON.stringify(changedBy)}\n` +
        `nodes fold-constants left: ${JSON.stringify(notFolded)}`,
    );
    expect(failures).toEqual([]);
    expect(compared).toBeGreaterThan(50);
    for (const pass of ['remove-identities', 'simplify-shapes', 'fold-constants'] as const) {
      expect(changedBy[pass], pass).toBeGreaterThan(0);
    }
    expect(nodesAfter).toBeLessThan(nodesBefore);
  });
});
