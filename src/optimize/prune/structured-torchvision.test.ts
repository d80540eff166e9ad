/**
 * Structured pruning of torchvision models (exported on demand by test/fixtures/make_fixtures.py):
 * resnet18's residual stages and mobilenet_v2's inverted-residual stages are channel groups. The
 * pruned models load in onnxruntime, have the expected weight shapes and parameter counts, and
 * compute exactly what the original computes with the removed channels switched off.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../onnx/io.ts';
import type { Model, Tensor } from '../../onnx/ir.ts';
import { Session, synthesizeInputs } from '../../runtime/index.ts';
import { ensureTorchvisionFixture, fixtureSkipReason } from '../../../test/fixtures/index.ts';
import { maxRelDiff } from '../../../test/optimize/helpers.ts';
import { maskedEquivalent } from '../../../test/optimize/prune-helpers.ts';
import { pruneFilters } from './structured.ts';

const TOLERANCE = 1e-5;

const skipReason = fixtureSkipReason();
if (skipReason && process.env.CI === 'true')
  throw new Error(`torchvision fixtures unavailable under CI: ${skipReason}`);
if (skipReason) console.warn(`skipping torchvision structured-pruning test: ${skipReason}`);

function weightOf(m: Model, node: string): Tensor {
  const n = m.graph.nodes.find((x) => x.name === node)!;
  return m.graph.initializers.find((t) => t.name === n.inputs[1])!;
}

function floats(m: Model): number {
  return m.graph.initializers.filter((t) => t.dtype === 'float32').reduce((s, t) => s + t.data.length, 0);
}

async function expectMaskedEqual(original: Model, pruned: Model, masked: Model): Promise<void> {
  const s = await Session.create(pruned, { threads: 1 });
  const r = await Session.create(masked, { threads: 1 });
  try {
    const feeds = synthesizeInputs(s.inputs, { batch: 1, seed: 99 });
    const a = Object.values(await r.run(feeds))[0]!;
    const b = Object.values(await s.run(feeds))[0]!;
    expect(b.dims).toEqual(a.dims);
    expect(maxRelDiff(a, b)).toBeLessThan(TOLERANCE);
    // the switched-off channels matter: the masked model is not the original
    const o = await Session.create(original, { threads: 1 });
    const y = Object.values(await o.run(feeds))[0]!;
    await o.release();
    expect(maxRelDiff(y, a)).toBeGreaterThan(1e-3);
  } finally {
    await s.release();
    await r.release();
  }
}

describe.skipIf(!!skipReason)('structured pruning of torchvision models', () => {
  it('resnet18: every residual stage is one channel group; half its channels go from all members', async () => {
    const m = loadModel((await ensureTorchvisionFixture('resnet18'))!);
    const { model, report } = pruneFilters(m, { ratio: 0.5 });
    // all 20 convs are pruned, only fc (the graph output) stays whole
    expect(report.layers).toHaveLength(20);
    expect(report.skipped.map((s) => s.name)).toEqual(['/fc/Gemm']);
    const groups = new Set(report.layers.filter((l) => l.group).map((l) => l.group!.join(',')));
    expect([...groups].map((g) => g.split(',').length)).toEqual([3, 3, 3, 3]);
    const stage2 = report.layers.find((l) => l.name === '/layer2/layer2.0/downsample/downsample.0/Conv')!;
    expect(stage2.group).toEqual(
      expect.arrayContaining(['/layer2/layer2.0/conv2/Conv', '/layer2/layer2.1/conv2/Conv']),
    );
    for (const l of report.layers) {
      expect(l.after).toBe(l.before / 2);
      if (l.group)
        for (const other of l.group) expect(report.layers.find((k) => k.name === other)!.removed).toEqual(l.removed);
    }
    expect(weightOf(model, '/conv1/Conv').dims).toEqual([32, 3, 7, 7]);
    expect(weightOf(model, '/layer1/layer1.0/conv1/Conv').dims).toEqual([32, 32, 3, 3]);
    expect(weightOf(model, '/layer2/layer2.0/downsample/downsample.0/Conv').dims).toEqual([64, 32, 1, 1]);
    expect(weightOf(model, '/layer4/layer4.1/conv2/Conv').dims).toEqual([256, 256, 3, 3]);
    expect(weightOf(model, '/fc/Gemm').dims).toEqual([1000, 256]);
    // every conv weight is a quarter (both channel axes halved; the stem's input is RGB: a half),
    // every BatchNorm vector a half; fc loses half its inputs
    let expected = 0;
    for (const n of m.graph.nodes) {
      const t = n.inputs.map((i) => m.graph.initializers.find((x) => x.name === i));
      if (n.opType === 'Conv')
        expected += t[1]!.data.length / (t[1]!.dims[1] === 3 ? 2 : 4) + (t[2]?.data.length ?? 0) / 2;
      if (n.opType === 'BatchNormalization') expected += t.slice(1).reduce((s, x) => s + x!.data.length / 2, 0);
      if (n.opType === 'Gemm') expected += t[1]!.data.length / 2 + t[2]!.data.length;
    }
    expect(floats(m)).toBe(report.parametersBefore);
    expect(report.parametersAfter).toBe(expected);
    expect(floats(model)).toBe(expected);
    console.log(`resnet18 at 50% filters: ${report.parametersBefore} -> ${report.parametersAfter} parameters`);
    await expectMaskedEqual(m, model, maskedEquivalent(m, report));
  });

  it('mobilenet_v2: projection convs of a stage form a group; depthwise convs follow their expand conv', async () => {
    const m = loadModel((await ensureTorchvisionFixture('mobilenet_v2'))!);
    const { model, report } = pruneFilters(m, { ratio: 0.5 });
    const proj = (i: number) => `/features/features.${i}/conv/conv.2/Conv`;
    expect(report.layers.find((l) => l.name === proj(4))!.group).toEqual(
      expect.arrayContaining([proj(4), proj(5), proj(6)]),
    );
    expect(weightOf(model, proj(5)).dims).toEqual([16, 96, 1, 1]);
    expect(weightOf(model, '/features/features.5/conv/conv.1/conv.1.0/Conv').dims).toEqual([96, 1, 3, 3]);
    expect(weightOf(model, '/classifier/classifier.1/Gemm').dims).toEqual([1000, 640]);
    expect(floats(model)).toBe(report.parametersAfter);
    console.log(`mobilenet_v2 at 50% filters: ${report.parametersBefore} -> ${report.parametersAfter} parameters`);
    await expectMaskedEqual(m, model, maskedEquivalent(m, report));
  });
});
