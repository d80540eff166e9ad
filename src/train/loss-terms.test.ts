/**
 * The proximal term (FedProx, L2-SP): its value and its gradient as the training graph
 * differentiates it, checked against central finite differences of the term's reported value.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../data/dataset.ts';
import { Dense } from '../nn/layers/dense.ts';
import { ReLU } from '../nn/layers/activations.ts';
import { Sequential } from '../nn/network.ts';
import type { TensorValue } from '../runtime/tensor.ts';
import { ANCHOR_SUFFIX, proximalTerm } from './loss-terms.ts';
import { TrainingSession } from './session.ts';

const MU = 0.3;
const LR = 0.1;
/** Finite-difference step: the term is quadratic, so central differences are exact up to float32 rounding. */
const EPS = 1e-2;

const model = () => new Sequential([5], [new Dense(6), new ReLU(), new Dense(3)]).build({ seed: 11 });

function batch(): { x: Record<string, TensorValue>; y: TensorValue } {
  const r = rng(5);
  return {
    x: { input: { dtype: 'float32', dims: [4, 5], data: Float32Array.from({ length: 20 }, () => r() * 2 - 1) } },
    y: { dtype: 'int32', dims: [4], data: Int32Array.of(0, 1, 2, 1) },
  };
}

describe('proximalTerm', () => {
  it("the graph's gradient of μ/2·‖w − anchor‖² matches finite differences of the term", async () => {
    const opts = { loss: 'cross-entropy' as const, optimizer: { kind: 'sgd' as const, lr: LR }, threads: 1 };
    const plain = await TrainingSession.create(model(), opts);
    const prox = await TrainingSession.create(model(), { ...opts, lossTerms: [proximalTerm(MU)] });
    try {
      // anchors away from the weights, differently per element
      const r = rng(9);
      const anchors: Record<string, TensorValue> = {};
      for (const p of prox.parameterNames) {
        const w = prox.tensor(p);
        anchors[`${p}${ANCHOR_SUFFIX}`] = {
          ...w,
          data: Float32Array.from(w.data as Float32Array, (v) => v + r() - 0.5),
        };
      }
      prox.setTensors(anchors);
      const start = prox.getState();
      const { x, y } = batch();

      // analytic: with plain SGD, (p_plain' − p_prox') / lr is the term's gradient at the start point
      await plain.step(x, y);
      const stepped = await prox.step(x, y);
      let want = 0;
      for (const p of prox.parameterNames) {
        const w = start.tensors[p]!.data as Float32Array;
        const a = anchors[`${p}${ANCHOR_SUFFIX}`]!.data as Float32Array;
        for (let i = 0; i < w.length; i++) want += (MU / 2) * (w[i]! - a[i]!) ** 2;
      }
      expect(stepped.terms!.proximal).toBeCloseTo(want, 4);

      const analytics = new Map(
        prox.parameterNames.map((p) => {
          const a = plain.tensor(p).data as Float32Array;
          const b = prox.tensor(p).data as Float32Array;
          return [p, Float64Array.from(a, (v, i) => (v - b[i]!) / LR)];
        }),
      );
      let checked = 0;
      for (const p of prox.parameterNames) {
        const w0 = start.tensors[p]!.data as Float32Array;
        const a = anchors[`${p}${ANCHOR_SUFFIX}`]!.data as Float32Array;
        const analytic = analytics.get(p)!;
        for (let i = 0; i < w0.length; i += Math.max(1, Math.floor(w0.length / 5))) {
          const termAt = async (v: number) => {
            prox.setState(start);
            const w = w0.slice();
            w[i] = v;
            prox.setTensors({ [p]: { ...start.tensors[p]!, data: w } });
            return (await prox.step(x, y, 0)).terms!.proximal!;
          };
          const numeric = ((await termAt(w0[i]! + EPS)) - (await termAt(w0[i]! - EPS))) / (2 * EPS);
          expect(analytic[i]).toBeCloseTo(numeric, 3);
          expect(numeric).toBeCloseTo(MU * (w0[i]! - a[i]!), 3); // and the closed form
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(4 * 5);
    } finally {
      await plain.release();
      await prox.release();
    }
  });
});
