/**
 * Fine-tuning real architectures as users export them (test/fixtures/make_finetune_fixtures.py):
 * torchvision resnet18, squeezenet1_1 (opsets 13 and 11), mobilenet_v2/v3, efficientnet-b0,
 * shufflenet, a GRU and an LSTM sequence classifier and a small transformer encoder. Per family:
 * one SGD step equals PyTorch's (parameters and BatchNorm running statistics), a few more steps
 * lower the loss, and the saved model keeps the export's opset and nodes, loads on onnxruntime and
 * passes the ONNX checker. The training graph itself runs at TRAINING_OPSET.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { defaultOpset, type Model, type Tensor } from '../onnx/ir.ts';
import { loadModel, saveModel } from '../onnx/io.ts';
import { Session } from '../runtime/session.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import { fixtureSkipReason } from '../../test/fixtures/index.ts';
import {
  ensureFinetuneFixture,
  ensureFinetuneFixtures,
  FINETUNE_FAMILIES,
  HEAD_FAMILIES,
  type FinetuneFamily,
} from '../../test/fixtures/finetune.ts';
import { checkOnnxFiles } from '../../test/fixtures/onnx-checker.ts';
import { TRAINING_OPSET } from './autodiff.ts';
import type { Formulations } from './grad/formulations.ts';
import { resolveFrozen } from './freeze.ts';
import { replaceHead } from './head.ts';
import { hasRecurrent } from './lower/recurrent.ts';
import { lowerRecurrentFor, transferParameters } from './lower/parameters.ts';
import { TrainingSession } from './session.ts';

/** The acceptance bound of issue 11 for one step (max abs parameter difference). */
const PARITY_TOLERANCE = 1e-4;
/**
 * Where PyTorch's own float32 step is further than PARITY_TOLERANCE from the exact (float64) step
 * — batch-norm over few values deep in shufflenet amplifies rounding — the model is ill-conditioned
 * in float32 and verge may differ from PyTorch by this multiple of the largest such distance over
 * the model's parameters (the two engines round differently; a single parameter's distance is one
 * sample of rounding and can be small by chance). Measured on an AVX-512 Xeon without AMX: on
 * shufflenet (largest distance 6.4e-4) verge differs from PyTorch by at most 1.8e-3 (2.8×); per
 * parameter up to 5.6× that parameter's own distance. Models whose largest distance is within
 * PARITY_TOLERANCE keep PARITY_TOLERANCE itself.
 */
const FLOAT32_NOISE_FACTOR = 4;
const EXTRA_STEPS = 3;

const tmp = mkdtempSync(join(tmpdir(), 'verge-finetune-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
// Every family's fixture in one Python process (torch imported once) before the first case needs one.
beforeAll(() => {
  if (!fixtureSkipReason()) ensureFinetuneFixtures(FINETUNE_FAMILIES);
}, 3_600_000);

const value = (t: Tensor): TensorValue => ({ dtype: t.dtype, dims: [...t.dims], data: t.data });

/** Two numeric tensors' contents are the same bytes (same array type and length). */
function sameBits(a: Tensor['data'], b: Tensor['data']): boolean {
  const bytes = (d: Tensor['data']) => {
    const v = d as ArrayBufferView;
    return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  };
  return a.constructor === b.constructor && Buffer.compare(bytes(a), bytes(b)) === 0;
}

function opHistogram(m: Model): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of m.graph.nodes) h[n.opType] = (h[n.opType] ?? 0) + 1;
  return h;
}

/** A family's exported model and PyTorch's reference tensors and metadata. */
function loadFamily(name: FinetuneFamily) {
  const f = ensureFinetuneFixture(name)!;
  const expected = loadModel(f.expected);
  return {
    f,
    source: loadModel(f.model),
    byName: new Map(expected.graph.initializers.map((t) => [t.name, t])),
    meta: Object.fromEntries((expected.metadataProps ?? []).map((p) => [p.key, p.value])),
  };
}

/** One SGD step of `s` on the family's batch equals PyTorch's (every parameter compared); returns the step. */
async function expectSgdStepParity(s: TrainingSession, { f, byName, meta }: ReturnType<typeof loadFamily>) {
  const lr = Number(meta.sgd_lr);
  const first = await s.step({ input: value(byName.get('input')!) }, value(byName.get('labels')!), lr);
  expect(first.loss).toBeCloseTo(Number(meta.loss_sgd), 4);
  const state = s.getState().tensors;
  const compared: string[] = [];
  const noise = Object.values(f.meta.float32_noise);
  const modelNoise = noise.some((n) => n > PARITY_TOLERANCE) ? Math.max(...noise) : 0;
  for (const [key, want] of byName) {
    if (!key.startsWith('sgd/')) continue;
    const param = key.slice(4);
    const got = state[param];
    expect(got, `state has ${param}`).toBeDefined();
    const a = got!.data as Float32Array;
    const b = want.data as Float32Array;
    expect(a.length).toBe(b.length);
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
    const bound = Math.max(PARITY_TOLERANCE, FLOAT32_NOISE_FACTOR * modelNoise);
    expect(d, param).toBeLessThan(bound);
    compared.push(param);
  }
  for (const p of s.parameterNames) expect(compared, `PyTorch reference for ${p}`).toContain(p);
  return first;
}

describe.each(FINETUNE_FAMILIES)('fine-tuning %s', (name) => {
  test(
    'one SGD step equals PyTorch, loss decreases, the saved model keeps its opset',
    { timeout: 600_000 },
    async (ctx) => {
      const skip = fixtureSkipReason();
      if (skip && process.env.CI === 'true') throw new Error(skip);
      if (skip) return ctx.skip(skip);
      const family = loadFamily(name);
      const { f, source, byName, meta } = family;
      const input = value(byName.get('input')!);
      const labels = value(byName.get('labels')!);
      const lr = Number(meta.sgd_lr);
      expect(defaultOpset(source)).toBe(f.meta.opset);

      // The default formulations (GRU and LSTM unrolled); gru 'fused' below.
      const trainable = hasRecurrent(source) ? await lowerRecurrentFor(source, { input }, {}) : source;
      const s = await TrainingSession.create(trainable, {
        loss: 'cross-entropy',
        optimizer: { kind: 'sgd', lr },
        threads: 2,
      });
      try {
        expect(defaultOpset(s.graph.model)).toBe(Math.max(f.meta.opset, TRAINING_OPSET));
        const first = await expectSgdStepParity(s, family);

        let last = first.loss;
        for (let i = 0; i < EXTRA_STEPS; i++) last = (await s.step({ input }, labels, lr)).loss;
        expect(last).toBeLessThan(first.loss);

        let trained = s.exportModel();
        if (trainable !== source) trained = transferParameters(source, trained).model;
        const path = join(tmp, `${name}.onnx`);
        saveModel(trained, path);
        const saved = loadModel(path);
        expect(defaultOpset(saved)).toBe(f.meta.opset);
        expect(opHistogram(saved)).toEqual(opHistogram(source));
        const run = await Session.create(saved);
        try {
          const out = await run.run({ input });
          expect(Object.values(out)[0]!.dims).toEqual([input.dims[0], f.meta.classes]);
        } finally {
          await run.release();
        }
        const checked = checkOnnxFiles([path]);
        if (!checked.skipped) expect(checked.failures).toEqual([]);
      } finally {
        await s.release();
      }
    },
  );
});

/**
 * Gradient formulations that are not the default (src/train/grad/formulations.ts) on the
 * architectures they apply to: one SGD step equals PyTorch's as well.
 */
describe.each([
  ['resnet18', { maxPool: 'slices' }],
  ['squeezenet1_1', { maxPool: 'slices' }],
  ['mobilenet_v2', { depthwiseWeight: 'grouped-conv' }],
  ['gru', { gru: 'fused' }],
  ['gru', { sharedWeight: 'stacked' }],
  ['transformer', { layerNorm: 'primitives' }],
] as [FinetuneFamily, Partial<Formulations>][])('formulations on %s', (name, formulations) => {
  test(`${JSON.stringify(formulations)}: one SGD step equals PyTorch`, { timeout: 600_000 }, async (ctx) => {
    const skip = fixtureSkipReason();
    if (skip && process.env.CI === 'true') throw new Error(skip);
    if (skip) return ctx.skip(skip);
    const family = loadFamily(name);
    const { source } = family;
    const input = value(family.byName.get('input')!);
    const trainable = hasRecurrent(source) ? await lowerRecurrentFor(source, { input }, formulations) : source;
    const s = await TrainingSession.create(trainable, {
      loss: 'cross-entropy',
      optimizer: { kind: 'sgd', lr: Number(family.meta.sgd_lr) },
      threads: 2,
      formulations,
    });
    try {
      await expectSgdStepParity(s, family);
    } finally {
      await s.release();
    }
  });
});

/**
 * Transfer learning as users do it: a fresh head for 5 classes (`--num-classes 5`), the backbone
 * frozen (`--freeze backbone`), BatchNorm in training mode (`--train-bn`, the default) or with fixed
 * running statistics (`--no-train-bn`). The head starts from PyTorch's own initial values so one SGD
 * step can be compared; frozen parameters must stay bit-identical and get no gradient graph.
 */
describe.each(HEAD_FAMILIES)('transfer learning on %s (new head, frozen backbone)', (name) => {
  for (const [mode, trainBatchNorm] of [
    ['train_bn', true],
    ['eval_bn', false],
  ] as const)
    test(`BatchNorm ${mode}: one SGD step equals PyTorch`, { timeout: 600_000 }, async (ctx) => {
      const skip = fixtureSkipReason();
      if (skip && process.env.CI === 'true') throw new Error(skip);
      if (skip) return ctx.skip(skip);
      const { source, byName, meta } = loadFamily(name);
      const classes = Number(meta.head_classes);
      const lr = Number(meta.sgd_lr);
      const { model: replaced, head } = replaceHead(source, classes, { seed: 1 });
      // PyTorch's initial head values, so that one step is comparable.
      const init = (n: string) => byName.get(`head/init/${n}`)!;
      const model = {
        ...replaced,
        graph: {
          ...replaced.graph,
          initializers: replaced.graph.initializers.map((t) =>
            t.name === head.weight || t.name === head.bias
              ? { ...t, data: init(t.name).data, dims: [...init(t.name).dims] }
              : t,
          ),
        },
      };
      const { frozen, trainable } = resolveFrozen(model, 'backbone');
      expect(trainable.sort()).toEqual([head.weight, head.bias].sort());
      const s = await TrainingSession.create(model, {
        loss: 'cross-entropy',
        optimizer: { kind: 'sgd', lr },
        frozen,
        trainBatchNorm,
        threads: 2,
      });
      try {
        // No gradient graph for the backbone: nothing differentiates a convolution's input.
        const ops = new Set(s.graph.model.graph.nodes.map((n) => n.opType));
        expect(ops.has('ConvTranspose')).toBe(false);
        expect(s.parameterNames.slice().sort()).toEqual(trainable.sort());
        const r = await s.step({ input: value(byName.get('input')!) }, value(byName.get('head/labels')!), lr);
        expect(r.loss).toBeCloseTo(Number(meta[`head_loss_${mode}`]), 4);
        const state = s.getState().tensors;
        const exported = new Map(s.exportModel().graph.initializers.map((t) => [t.name, t]));
        let compared = 0;
        for (const [key, want] of byName) {
          if (!key.startsWith(`head/${mode}/`)) continue;
          const param = key.slice(`head/${mode}/`.length);
          const got = (state[param]?.data ?? exported.get(param)?.data) as Float32Array;
          const b = want.data as Float32Array;
          let d = 0;
          for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(got[i]! - b[i]!));
          expect(d, param).toBeLessThan(PARITY_TOLERANCE);
          compared++;
        }
        expect(compared).toBeGreaterThanOrEqual(2);
        const before = new Map(source.graph.initializers.map((t) => [t.name, t]));
        // bit-identical, compared as bytes: toEqual walks resnet18's 11M frozen floats one by one (~3 min)
        const changed = frozen.filter((p) => !sameBits(exported.get(p)!.data, before.get(p)!.data));
        expect(changed).toEqual([]);
        if (!trainBatchNorm) expect(s.stateTensors.filter((t) => t.kind === 'buffer')).toEqual([]);
      } finally {
        await s.release();
      }
    });
});
