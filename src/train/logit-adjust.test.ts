/**
 * TrainingSessionOptions.logitAdjust: the loss reads logits · scale + offset (per class). For a
 * model whose last layer is Dense, that is exactly the plain loss of the same model with head row c
 * scaled by s_c and bias b_c' = s_c·b_c + o_c; by the chain rule the head's gradient is s_c times
 * that model's, and every other parameter's gradient is that model's. Checked on one SGD step.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../data/dataset.ts';
import { Dense } from '../nn/layers/dense.ts';
import { ReLU } from '../nn/layers/activations.ts';
import { Sequential } from '../nn/network.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import { findHead } from './head.ts';
import { TrainingSession } from './session.ts';
import { LOGIT_OFFSET, LOGIT_SCALE } from './training-graph.ts';

const LR = 0.1;
const CLASSES = 3;
const model = () => new Sequential([5], [new Dense(6), new ReLU(), new Dense(CLASSES)]).build({ seed: 11 });
const opts = { loss: 'cross-entropy' as const, optimizer: { kind: 'sgd' as const, lr: LR }, threads: 1 };

function batch(): { x: Record<string, TensorValue>; y: TensorValue } {
  const r = rng(5);
  return {
    x: { input: { dtype: 'float32', dims: [6, 5], data: Float32Array.from({ length: 30 }, () => r() * 2 - 1) } },
    y: { dtype: 'int32', dims: [6], data: Int32Array.of(0, 1, 2, 1, 0, 1) },
  };
}

const vec = (v: number[]): TensorValue => ({ dtype: 'float32', dims: [v.length], data: Float32Array.from(v) });
/** Which axis of the head weight is the class axis (Dense stores [in, out] or [out, in]). */
const classOf = (dims: readonly number[], i: number) => (dims[1] === CLASSES ? i % CLASSES : Math.floor(i / dims[1]!));

describe('logitAdjust', () => {
  it('scale 1 and offset 0 train exactly like the plain session', async () => {
    const plain = await TrainingSession.create(model(), opts);
    const adjusted = await TrainingSession.create(model(), { ...opts, logitAdjust: true });
    try {
      expect([...(adjusted.tensor(LOGIT_SCALE).data as Float32Array)]).toEqual([1, 1, 1]);
      const { x, y } = batch();
      const a = await plain.step(x, y);
      const b = await adjusted.step(x, y);
      expect(b.loss).toBe(a.loss);
      for (const p of plain.parameterNames) expect(adjusted.tensor(p).data).toEqual(plain.tensor(p).data);
    } finally {
      await plain.release();
      await adjusted.release();
    }
  });

  it('loss and gradient equal the plain loss of the model with the head scaled and shifted (chain rule)', async () => {
    const scale = [2, 0.5, 0];
    const offset = [0.3, -1, 0.7];
    const head = findHead(model());
    const adjusted = await TrainingSession.create(model(), { ...opts, logitAdjust: true });
    const plain = await TrainingSession.create(model(), opts);
    try {
      adjusted.setTensors({ [LOGIT_SCALE]: vec(scale), [LOGIT_OFFSET]: vec(offset) });
      // the equivalent plain model: head row c × s_c, bias c → s_c·b_c + o_c
      const w = adjusted.tensor(head.weight);
      const b = adjusted.tensor(head.bias!);
      const w0 = (w.data as Float32Array).slice();
      const b0 = (b.data as Float32Array).slice();
      plain.setTensors({
        [head.weight]: { ...w, data: w0.map((v, i) => v * scale[classOf(w.dims, i)]!) },
        [head.bias!]: { ...b, data: b0.map((v, c) => v * scale[c]! + offset[c]!) },
      });
      const body = plain.parameterNames.filter((p) => p !== head.weight && p !== head.bias);
      const bodyBefore = new Map(body.map((p) => [p, (adjusted.tensor(p).data as Float32Array).slice()]));
      const plainW = (plain.tensor(head.weight).data as Float32Array).slice();
      const plainB = (plain.tensor(head.bias!).data as Float32Array).slice();
      const { x, y } = batch();
      const ra = await adjusted.step(x, y);
      const rp = await plain.step(x, y);
      expect(ra.loss).toBeCloseTo(rp.loss, 5);
      expect(ra.loss).toBeGreaterThan(0);
      // body: the same gradient
      for (const p of body) {
        const before = bodyBefore.get(p)!;
        const da = (adjusted.tensor(p).data as Float32Array).map((v, i) => v - before[i]!);
        const dp = (plain.tensor(p).data as Float32Array).map((v, i) => v - before[i]!);
        da.forEach((v, i) => expect(v).toBeCloseTo(dp[i]!, 6));
        expect(da.some((v) => v !== 0)).toBe(true);
      }
      // head: s_c times the equivalent model's gradient; class 2 (scale 0) does not move at all
      const dw = (adjusted.tensor(head.weight).data as Float32Array).map((v, i) => v - w0[i]!);
      const dwPlain = (plain.tensor(head.weight).data as Float32Array).map((v, i) => v - plainW[i]!);
      dw.forEach((v, i) => {
        const c = classOf(w.dims, i);
        expect(v).toBeCloseTo(scale[c]! * dwPlain[i]!, 6);
        if (scale[c] === 0) expect(v).toBe(0);
      });
      const db = (adjusted.tensor(head.bias!).data as Float32Array).map((v, c) => v - b0[c]!);
      const dbPlain = (plain.tensor(head.bias!).data as Float32Array).map((v, c) => v - plainB[c]!);
      db.forEach((v, c) => expect(v).toBeCloseTo(scale[c]! * dbPlain[c]!, 6));
      expect(db[2]).toBe(0);
      expect(Math.abs(db[0]!)).toBeGreaterThan(1e-4);
    } finally {
      await plain.release();
      await adjusted.release();
    }
  });

  it('refuses a loss that is not cross-entropy on [batch, classes]', async () => {
    await expect(TrainingSession.create(model(), { ...opts, loss: 'mse', logitAdjust: true })).rejects.toThrow(
      /logit adjustment needs a cross-entropy loss/,
    );
  });
});
