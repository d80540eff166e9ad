import type { GradRule } from './rule.ts';

/**
 * Embedding-style gather: the gradient rows are scattered back with ScatterND(reduction=add), so
 * repeated indices sum correctly. Other axes are moved to the front with a transpose.
 * Negative constant indices are not supported by ScatterND's bounds in all builds: use ≥ 0.
 */
export const Gather: GradRule = {
  op: 'Gather',
  grad: (c) => {
    const data = c.input(0);
    const idx = c.input(1);
    const r = c.rank(data);
    const q = c.rank(idx);
    const axis = c.axis(c.attrInt('axis', 0), r);
    const constIdx = c.constInts(idx);
    const sx = c.shape(data);
    if (q === 0 && constIdx && !sx.dynamic[axis]) {
      // One constant position (a sequence model's last step, out[:, -1]; a CLS token): dY padded
      // with zeros along the axis — one pass, where zeros + transposes + ScatterND took five.
      const dim = sx.dims[axis]!;
      const i = constIdx[0]! < 0 ? constIdx[0]! + dim : constIdx[0]!;
      const pads = new Array<number>(2 * r).fill(0);
      pads[axis] = i;
      pads[axis + r] = dim - i - 1;
      return [c.op('Pad', [c.op('Unsqueeze', [c.dy(), c.ints([axis])]), c.ints(pads)]), undefined];
    }
    let dy = c.dy();
    let zeros: string;
    const perm = [axis, ...Array.from({ length: r }, (_, i) => i).filter((i) => i !== axis)];
    if (axis !== 0) {
      // dY dims: data[:axis] + idx dims + data[axis+1:] → idx dims first.
      const yPerm = [
        ...Array.from({ length: q }, (_, i) => axis + i),
        ...Array.from({ length: axis }, (_, i) => i),
        ...Array.from({ length: r - axis - 1 }, (_, i) => axis + q + i),
      ];
      dy = c.op('Transpose', [dy], { perm: yPerm });
      zeros = c.op('Transpose', [c.zerosLike(data)], { perm });
    } else zeros = c.zerosLike(data);
    const indices = c.op('Unsqueeze', [idx, c.ints([-1])]);
    // Constant, distinct indices (a lowered RNN picking time steps) need no accumulation: a plain
    // ScatterND works at any opset. Repeated or computed indices (embeddings) need reduction=add (opset 16).
    const distinct = constIdx !== undefined && new Set(constIdx).size === constIdx.length;
    if (!distinct && c.opset < 16)
      c.fail('gathering computed or repeated indices needs opset 16 (ScatterND reduction=add)');
    let d = c.op('ScatterND', [zeros, indices, dy], distinct ? {} : { reduction: 'add' });
    if (axis !== 0) {
      const inverse = new Array<number>(r);
      perm.forEach((p, i) => (inverse[p] = i));
      d = c.op('Transpose', [d], { perm: inverse });
    }
    return [d, undefined];
  },
};
