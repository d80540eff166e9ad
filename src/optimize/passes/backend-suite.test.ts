/**
 * Every graph pass over the PyTorch-exported models of the ONNX backend suite: the optimized model
 * must load in onnxruntime and give the original model's outputs within 1e-5.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../onnx/io.ts';
import type { Model } from '../../onnx/ir.ts';
import type { TensorValue } from '../../runtime/tensor.ts';
import { backendSuiteSkipReason, listSuiteModels, readDataSets } from '../../../test/onnx/backend-suite.ts';
import { maxRelDiff, runModel } from '../../../test/optimize/helpers.ts';
import { optimizeGraph } from './pipeline.ts';

const PASS_TOLERANCE = 1e-5;
/** The categories holding exported networks (node/ holds single-op tests with no structure to optimize). */
const CATEGORIES = ['pytorch-converted/', 'pytorch-operator/', 'simple/'];

const skip = backendSuiteSkipReason();
if (skip && process.env.CI === 'true') throw new Error(skip);

describe.skipIf(!!skip)(`graph passes over the ONNX backend suite${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('keeps outputs of every exported model within 1e-5 and removes nodes', async () => {
    const models = listSuiteModels().filter((m) => CATEGORIES.some((c) => m.id.startsWith(c)));
    expect(models.length).toBeGreaterThan(50);
    let checked = 0;
    let nodesBefore = 0;
    let nodesAfter = 0;
    const failures: string[] = [];
    for (const sm of models) {
      let model: Model;
      let feeds: Record<string, TensorValue>;
      let expected: Record<string, TensorValue>;
      try {
        model = loadModel(sm.modelPath);
        const data = readDataSets(sm)[0];
        if (!data) continue;
        const inits = new Set(model.graph.initializers.map((t) => t.name));
        const inputs = model.graph.inputs.filter((i) => !inits.has(i.name));
        feeds = Object.fromEntries(inputs.map((i, k) => [i.name, data.inputs[k]! as TensorValue]));
        expected = await runModel(model, feeds);
      } catch {
        continue; // onnxruntime itself cannot run it (allow-listed in the conformance test)
      }
      try {
        const { model: opt } = await optimizeGraph(model);
        const got = await runModel(opt, feeds);
        for (const [k, v] of Object.entries(expected)) {
          if (v.dtype !== 'float32') continue;
          const d = maxRelDiff(v, got[k]!);
          if (!(d < PASS_TOLERANCE)) failures.push(`${sm.id}: output ${k} differs by ${d}`);
        }
        nodesBefore += model.graph.nodes.length;
        nodesAfter += opt.graph.nodes.length;
        checked++;
      } catch (e) {
        failures.push(`${sm.id}: ${(e as Error).message}`);
      }
    }
    console.log(`backend suite: ${checked} models, nodes ${nodesBefore} -> ${nodesAfter}`);
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(50);
    expect(nodesAfter).toBeLessThan(nodesBefore);
  });
});
