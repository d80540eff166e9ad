/**
 * Training's value shapes come from onnx/shape inference at two symbolic sizes; this checks them
 * against what onnxruntime computes when the graph is run at the same sizes (the probe training
 * used before), value by value: dtype, dims and which dims follow the symbolic input sizes.
 */
import { describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../onnx/index.ts';
import { architectureNames, buildArchitecture, TOKEN_ARCHITECTURES } from '../nn/index.ts';
import { lowerForTraining } from './autodiff.ts';
import { inferValueShapes, shapeOf, type ShapeMap } from './shapes.ts';
import { probeShapes } from '../../test/train/probe-shapes.ts';
import { backendSuiteSkipReason, listSuiteModels } from '../../test/onnx/backend-suite.ts';
import { ensureTorchvisionFixture, fixturePath, fixtureSkipReason, SMALL_FIXTURES } from '../../test/fixtures/index.ts';
import { isFloat, makeModel, tensorValueInfo } from '../onnx/index.ts';

/**
 * Differences between inferred and probed shapes. `partial`: the model reads sizes from the values
 * of its inputs (the probe's synthetic values decide them), so only the values inference did
 * decide are compared.
 */
function mismatches(inferred: ShapeMap, probed: ShapeMap, partial = false): string[] {
  const out: string[] = [];
  for (const [name, p] of probed) {
    const s = inferred.get(name);
    if (!s && partial) continue;
    if (!s) out.push(`${name}: not inferred (probe ${p.dtype}[${p.dims}])`);
    else if (JSON.stringify(s) !== JSON.stringify(p))
      out.push(`${name}: inferred ${JSON.stringify(s)}, probe ${JSON.stringify(p)}`);
  }
  for (const name of inferred.keys()) if (!probed.has(name)) out.push(`${name}: inferred but not probed`);
  return out;
}

async function expectSameAsProbe(model: Model): Promise<void> {
  expect(mismatches(inferValueShapes(model), await probeShapes(model))).toEqual([]);
}

const SIZE_FROM_DATA = new Set(['Range', 'Unique', 'NonZero', 'Compress', 'Loop']);

function archOptions(name: string) {
  if (TOKEN_ARCHITECTURES.includes(name)) return { inputShape: [12], classes: 4, vocabSize: 30, seed: 1 };
  if (name.startsWith('kws')) return { inputShape: [1, 20, 10], classes: 4, seed: 1 };
  return { inputShape: [1, 28, 28], classes: 10, seed: 1 };
}

describe('value shapes for training (onnx/shape inference at two symbolic sizes)', () => {
  it.each(architectureNames())('%s: as onnxruntime computes them, before and after lowering', async (name) => {
    const model = buildArchitecture(name, archOptions(name));
    await expectSameAsProbe(model);
    const lowered = lowerForTraining(model, inferValueShapes(model)).model;
    await expectSameAsProbe(lowered);
  });

  it.each([...SMALL_FIXTURES])('PyTorch export %s: as onnxruntime computes them', async (name) => {
    const model = loadModel(fixturePath(name));
    await expectSameAsProbe(model);
    await expectSameAsProbe(lowerForTraining(model, inferValueShapes(model)).model);
  });

  const tvSkip = fixtureSkipReason();
  it.skipIf(!!tvSkip && process.env.CI !== 'true')(
    'torchvision exports: as onnxruntime computes them',
    async () => {
      for (const name of ['squeezenet1_1', 'mobilenet_v2', 'resnet18'] as const) {
        const path = await ensureTorchvisionFixture(name);
        expect(path, name).toBeDefined();
        await expectSameAsProbe(loadModel(path!));
      }
    },
    300_000,
  );

  const suiteSkip = backendSuiteSkipReason();
  if (suiteSkip && process.env.CI === 'true') throw new Error(suiteSkip);
  it.skipIf(!!suiteSkip)(
    'ONNX backend-suite models: every value onnxruntime computes is inferred the same',
    async () => {
      const bad: string[] = [];
      let compared = 0;
      for (const m of listSuiteModels()) {
        let model: Model;
        let probed: ShapeMap;
        try {
          model = loadModel(m.modelPath);
          probed = await probeShapes(model);
        } catch {
          continue; // onnxruntime cannot run it on synthetic inputs: nothing to compare with
        }
        compared++;
        let inferred: ShapeMap;
        try {
          inferred = inferValueShapes(model);
        } catch (e) {
          bad.push(`${m.id}: ${(e as Error).message}`);
          continue;
        }
        // Non-float inputs (sizes, axes, pads, repeats, K…) and ops whose output size is a function of
        // the data (Range over float inputs, Unique, a Loop's trip count) decide sizes by the probe's synthetic values.
        const inits = new Set(model.graph.initializers.map((t) => t.name));
        const partial =
          model.graph.inputs.some((v) => !inits.has(v.name) && v.type?.kind === 'tensor' && !isFloat(v.type.dtype)) ||
          model.graph.nodes.some((n) => SIZE_FROM_DATA.has(n.opType));
        for (const x of mismatches(inferred, probed, partial)) bad.push(`${m.id}: ${x}`);
      }
      console.log(`backend suite: ${compared} models compared, ${bad.length} differences`);
      expect(bad).toEqual([]);
    },
    900_000,
  );

  it('a value whose shape cannot be inferred is a clear error when it is needed', () => {
    const model = makeModel({
      name: 'g',
      nodes: [{ name: 'u', opType: 'NoSuchOp', domain: '', inputs: ['x'], outputs: ['y'], attributes: {} }],
      inputs: [tensorValueInfo('x', 'float32', ['batch', 3])],
      outputs: [tensorValueInfo('y', 'float32')],
      initializers: [],
      sparseInitializers: [],
      valueInfo: [],
    });
    const shapes = inferValueShapes(model);
    expect(shapeOf(shapes, 'x')).toEqual({ dtype: 'float32', dims: [2, 3], dynamic: [true, false] });
    expect(() => shapeOf(shapes, 'y')).toThrow(/the shape of 'y' could not be inferred/);
  });
});
