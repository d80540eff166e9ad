import type { GradRule } from './rule.ts';

/**
 * LayerNormalization (opset 17), rewritten into primitives for training: normalize over axes
 * [axis, rank) with the sample's own statistics. Its gradient is one composite (formulation
 * layerNorm 'composite', the default) or the primitives' own rules ('primitives').
 */
export const LayerNormalization: GradRule = {
  op: 'LayerNormalization',
  trainingForward: (c) => {
    const x = c.input(0);
    const rank = c.rank(x);
    const axis = c.axis(c.attrInt('axis', -1), rank);
    const eps = c.attrFloat('epsilon', 1e-5);
    const axisList = Array.from({ length: rank - axis }, (_, i) => axis + i);
    const axes = c.ints(axisList);
    const mean_ = (v: string) =>
      c.opset >= 18
        ? c.op('ReduceMean', [v, axes], { keepdims: 1 })
        : c.op('ReduceMean', [v], { axes: axisList, keepdims: 1 });
    const mean = mean_(x);
    const xc = c.op('Sub', [x, mean]);
    const std = c.op('Sqrt', [c.op('Add', [mean_(c.op('Mul', [xc, xc])), c.scalar(eps)])]);
    const xhat = c.op('Div', [xc, std]);
    let y = c.op('Mul', [xhat, c.input(1)]);
    if (c.has(2)) y = c.op('Add', [y, c.input(2)]);
    c.g.op('Identity', [y], {}, { output: c.output(0) });
    if (c.output(1)) c.g.op('Identity', [mean], {}, { output: c.output(1) });
    if (c.output(2)) c.g.op('Reciprocal', [std], {}, { output: c.output(2) });
    if (c.formulations.layerNorm !== 'composite') return;
    // One gradient for the whole normalization (PyTorch's layer_norm_backward): with g = dY·γ and
    // means over the normalized axes, dX = (g − mean(g) − x̂·mean(g·x̂)) / std, dγ = Σ dY·x̂ and
    // dβ = Σ dY over the leading axes. It keeps x̂ and std only; the primitives' rules spend
    // about twice the full-size passes (Expand of the means' gradients, the centered input's).
    c.composite((g) => {
      if (g.hasDy(1) || g.hasDy(2))
        g.fail("the composite gradient ignores the mean and inverse std outputs' gradients");
      const dy = g.dy();
      // Emitted through g (the backward's builder), not c: the lowering's builder is done.
      const meanOf = (v: string) =>
        c.opset >= 18
          ? g.op('ReduceMean', [v, axes], { keepdims: 1 })
          : g.op('ReduceMean', [v], { axes: axisList, keepdims: 1 });
      let dX: string | undefined;
      if (g.needsGrad(0)) {
        const gy = g.op('Mul', [dy, c.input(1)]);
        const centered = g.op('Sub', [gy, meanOf(gy)]);
        const along = g.op('Mul', [xhat, meanOf(g.op('Mul', [gy, xhat]))]);
        dX = g.op('Div', [g.op('Sub', [centered, along]), std]);
      }
      return [
        dX,
        g.needsGrad(1) ? g.sumToShape(g.op('Mul', [dy, xhat]), c.input(1)) : undefined,
        g.needsGrad(2) ? g.sumToShape(dy, c.input(2)) : undefined,
      ];
    });
  },
};
