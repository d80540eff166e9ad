import type { GradRule } from './rule.ts';

/**
 * BatchNormalization in training mode, rewritten into primitives with one composite gradient:
 * normalize with the batch's statistics and update the running statistics as PyTorch does —
 * running = momentum_onnx·running + (1 − momentum_onnx)·batch, with the UNBIASED batch variance
 * (n/(n−1)), so a model trained here matches one trained in PyTorch.
 * With `modes.trainBatchNorm` false it normalizes with the running statistics, which stay fixed
 * buffers (eval-mode BN): y = x·k + (bias − mean·k), k = scale/√(var + ε); scale and bias still train.
 */
export const BatchNormalization: GradRule = {
  op: 'BatchNormalization',
  trainingForward: (c) => {
    const [x, scale, bias, runMean, runVar] = [0, 1, 2, 3, 4].map((i) => c.input(i)) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const rank = c.rank(x);
    const ch = c.dims(scale)[0]!;
    const eps = c.attrFloat('epsilon', 1e-5);
    if (c.modes.trainBatchNorm === false) {
      if (c.node.outputs.slice(1).some(Boolean))
        c.fail('a BatchNormalization with running-statistics outputs cannot run with fixed statistics');
      c.fixBuffer(runMean);
      c.fixBuffer(runVar);
      const perChannel = c.ints([1, ch, ...new Array<number>(rank - 2).fill(1)]);
      const k = c.op('Div', [scale, c.op('Sqrt', [c.op('Add', [runVar, c.scalar(eps)])])]);
      const shift = c.op('Sub', [bias, c.op('Mul', [runMean, k])]);
      const scaled = c.op('Mul', [x, c.op('Reshape', [k, perChannel])]);
      c.g.op('Add', [scaled, c.op('Reshape', [shift, perChannel])], {}, { output: c.output(0) });
      return;
    }
    const momentum = c.attrFloat('momentum', 0.9);
    const axisList = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
    const axes = c.ints(axisList);
    // ReduceMean takes its axes as an input from opset 18, as an attribute before.
    const mean_ = (v: string) =>
      c.opset >= 18
        ? c.op('ReduceMean', [v, axes], { keepdims: 1 })
        : c.op('ReduceMean', [v], { axes: axisList, keepdims: 1 });
    const bcast = c.ints([1, ch, ...new Array<number>(rank - 2).fill(1)]);
    const mean = mean_(x);
    const xc = c.op('Sub', [x, mean]);
    const variance = mean_(c.op('Mul', [xc, xc]));
    const std = c.op('Sqrt', [c.op('Add', [variance, c.scalar(eps)])]);
    const xhat = c.op('Div', [xc, std]);
    const scale4 = c.op('Reshape', [scale, bcast]);
    const scaled = c.op('Mul', [xhat, scale4]);
    c.g.op('Add', [scaled, c.op('Reshape', [bias, bcast])], {}, { output: c.output(0) });
    const flatC = c.ints([ch]);
    const count = c.toFloat(c.op('ReduceProd', [c.op('Gather', [c.op('Shape', [x]), axes])], { keepdims: 0 }));
    // One gradient for the whole normalization (PyTorch's batch_norm_backward): with m the count
    // per channel and k = scale/std,
    //   dBias = Σ dY,  dScale = Σ dY·x̂,  dX = k·(dY − dBias/m − x̂·dScale/m).
    // It keeps only x̂ and std from the forward; the primitives' own rules kept the centered input
    // too and spent more full-size passes.
    c.composite((g) => {
      const dy = g.dy();
      const sum = (v: string) => g.op('ReduceSum', [v, axes], { keepdims: 1 });
      const dBias4 = sum(dy);
      const dScale4 = sum(g.op('Mul', [dy, xhat]));
      let dX: string | undefined;
      if (g.needsGrad(0)) {
        const k = g.op('Div', [scale4, std]);
        const perCount = g.op('Div', [k, count]);
        const a = g.op('Mul', [dScale4, perCount]);
        const b = g.op('Mul', [dBias4, perCount]);
        dX = g.op('Sub', [g.op('Sub', [g.op('Mul', [dy, k]), g.op('Mul', [xhat, a])]), b]);
      }
      return [
        dX,
        g.needsGrad(1) ? g.op('Reshape', [dScale4, flatC]) : undefined,
        g.needsGrad(2) ? g.op('Reshape', [dBias4, flatC]) : undefined,
      ];
    });
    // Running statistics (not differentiated: nothing downstream of the loss reads them).
    const unbias = c.op('Div', [count, c.op('Sub', [count, c.scalar(1)])]);
    const blend = (run: string, batch: string) =>
      c.op('Add', [c.op('Mul', [run, c.scalar(momentum)]), c.op('Mul', [batch, c.scalar(1 - momentum)])]);
    c.updateState(runMean, blend(runMean, c.op('Reshape', [mean, flatC])));
    c.updateState(runVar, blend(runVar, c.op('Mul', [c.op('Reshape', [variance, flatC]), unbias])));
  },
};
