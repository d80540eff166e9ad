/**
 * GRU differentiated as one op (formulation `gru: 'fused'`): the forward stays onnxruntime's GRU
 * kernel, and the backward recomputes every step's gates at once from Y (all hidden states are
 * known after the forward, so the gate pre-activations of all steps are two batched MatMuls), then
 * runs the only sequential part, dh_{t−1} = f(dh_t), as four nodes per step, where the unrolled
 * lowering (lower/recurrent.ts) emits ~45 primitive nodes per step forward and backward. An
 * alternative, not the default: it measured slower (formulations.ts, gru) — onnxruntime runs the
 * unrolled graph's small kernels cheaply, and this form does more multiply-adds.
 *
 * Covered: PyTorch's form — linear_before_reset 1, layout 0, Sigmoid/Tanh activations, no
 * sequence_lens or clip, a sequence length fixed in the graph; forward, reverse, bidirectional;
 * optional B and initial_h. `fusedGruUnsupported` says why a node does not qualify; such nodes are
 * lowered to primitives.
 *
 * Per direction, with gates in ONNX order (z, r, h) and a_t = (1 − z)(1 − n²):
 *   dz̃ = dh·(h_prev − n)·z(1 − z)    dr̃ = dh·a·(Rh·h_prev + Rbh)·r(1 − r)    dñ = dh·a
 *   dh_prev = [dz̃, dr̃, dñ·r]·R + dh·z
 * One step multiplies dh by the step's five precomputed coefficient rows K_t = [Bz, Br, a, a·r, z]
 * and applies R5 = [R_z; R_r; 0; R_h; I] in one Gemm (whose C input adds dY of the next step).
 */
import type { GradContext, GradRule, LowerContext } from './rule.ts';
import { makeTensor, type Node } from '../../onnx/browser.ts';

const DEFAULT_ACTIVATIONS = ['Sigmoid', 'Tanh'];
/** Coefficient rows per step: Bz, Br, a, a·r, z (see above). */
const K_ROWS = 5;

/** Why `node` cannot take the fused GRU gradient, or undefined when it can (T: its sequence length, if known). */
export function fusedGruUnsupported(node: Node, seqLen: number | undefined): string | undefined {
  const a = node.attributes;
  const int = (k: string, d: number) => {
    const v = a[k];
    return v && v.type === 'int' ? v.value : d;
  };
  if (int('linear_before_reset', 0) !== 1) return 'linear_before_reset 0';
  if (int('layout', 0) !== 0) return 'layout 1';
  if (node.inputs[4]) return 'sequence_lens';
  if (a.clip) return 'clip';
  const acts = a.activations;
  if (acts && acts.type === 'strings' && acts.value.some((s, i) => s !== DEFAULT_ACTIVATIONS[i % 2]))
    return `activations ${acts.value.join(',')}`;
  if (!(typeof seqLen === 'number' && seqLen > 0)) return 'a sequence length not fixed in the graph';
  return undefined;
}

interface DirectionGrads {
  dX?: string;
  dW: string;
  dR: string;
  dB?: string;
  dH0?: string;
}

/** The fused backward of one direction: gates recomputed, the per-step recurrence, the batched parameter gradients. */
function directionGrad(c: GradContext, d: number, dirs: number, reverse: boolean): DirectionGrads | undefined {
  const [T, , I] = c.dims(c.input(0)) as [number, number, number];
  const H = c.dims(c.input(2))[2]!;
  const X = c.input(0);
  const hasB = c.has(3);
  const dY = c.dys[0];
  const dYh = c.dys[1];
  if (!dY && !dYh) return undefined;
  const ints = (v: number[]) => c.ints(v);
  const slice = (v: string, s: number, e: number, axis: number) =>
    c.op('Slice', [v, ints([s]), ints([e]), ints([axis])]);
  const reshape = (v: string, dims: number[]) => c.op('Reshape', [v, ints(dims)]);
  const ofDir = (v: string, axis: number, dims: number[]) => reshape(dirs === 1 ? v : slice(v, d, d + 1, axis), dims);
  const split = (v: string, sizes: number[], axis: number) =>
    c.g.node('Split', [v, ints(sizes)], { axis }, { outputs: sizes.length });
  const one = c.scalar(1);
  const mul = (a: string, b: string) => c.op('Mul', [a, b]);
  const sub = (a: string, b: string) => c.op('Sub', [a, b]);

  const W = ofDir(c.input(1), 0, [3 * H, I]);
  const R = ofDir(c.input(2), 0, [3 * H, H]);
  const B = hasB ? ofDir(c.input(3), 0, [6 * H]) : undefined;
  const Y = ofDir(c.output(0), 1, [T, -1, H]);
  const h0 = c.has(5)
    ? ofDir(c.input(5), 0, [1, -1, H])
    : c.op('ConstantOfShape', [c.op('Shape', [slice(Y, 0, 1, 0)])], {
        value: makeTensor('value', c.floatType, [1], [0]),
      });
  // The state each step starts from: [h0, Y_0 … Y_{T−2}] forward, [Y_1 … Y_{T−1}, h0] reverse.
  const hPrev =
    T === 1 ? h0 : c.op('Concat', reverse ? [slice(Y, 1, T, 0), h0] : [h0, slice(Y, 0, T - 1, 0)], { axis: 0 });

  // Gates of every step at once, as [T·B, ·] Gemms whose C input adds the bias in the same pass.
  const gemm = (v: string, w: string, bias: string | undefined) =>
    c.op('Gemm', bias ? [v, w, bias] : [v, w], { transB: 1 });
  const xw = gemm(reshape(X, [-1, I]), W, B && slice(B, 0, 3 * H, 0));
  const hr = gemm(reshape(hPrev, [-1, H]), R, B && slice(B, 3 * H, 6 * H, 0));
  const [xzr, xn] = split(xw, [2 * H, H], 1) as [string, string];
  const [hzr, hn] = split(hr, [2 * H, H], 1) as [string, string];
  const [z, r] = split(c.op('Sigmoid', [c.op('Add', [xzr, hzr])]), [H, H], 1) as [string, string];
  const n = c.op('Tanh', [c.op('Add', [xn, mul(r, hn)])]);
  const omz = sub(one, z);
  const a = mul(omz, sub(one, mul(n, n)));
  // (h_prev − n)·z = h − n: one Mul fewer, from Y.
  const bz = mul(sub(reshape(Y, [-1, H]), n), omz);
  const ar = mul(a, r);
  const br = mul(mul(ar, hn), sub(one, r));
  const K = reshape(c.op('Concat', [bz, br, a, ar, z], { axis: 1 }), [T, -1, K_ROWS, H]);
  const Ks = T === 1 ? [K] : split(K, new Array<number>(T).fill(1), 0);

  // R5 = [R_z; R_r; 0; R_h; I]: one Gemm gives [dz̃, dr̃, dñ, dñ·r, dh·z] · R5 = dh_prev.
  const zeros = c.g.constFloat(new Array<number>(H * H).fill(0), [H, H], 'gru_zeros', c.floatType);
  const eye = c.g.constFloat(
    Array.from({ length: H * H }, (_, i) => (i % (H + 1) === 0 ? 1 : 0)),
    [H, H],
    'gru_eye',
    c.floatType,
  );
  const R5 = c.op('Concat', [slice(R, 0, 2 * H, 0), zeros, slice(R, 2 * H, 3 * H, 0), eye], { axis: 0 });
  const dYs = dY
    ? T === 1
      ? [reshape(ofDir(dY, 1, [T, -1, H]), [-1, H])]
      : c.g.node(
          'Split',
          [ofDir(dY, 1, [-1, H])],
          { axis: 0, ...(c.opset >= 18 ? { num_outputs: T } : {}) },
          { outputs: T },
        )
    : undefined;
  const order = Array.from({ length: T }, (_, k) => (reverse ? k : T - 1 - k));
  const first = order[0]!;
  const dYhD = dYh ? ofDir(dYh, 0, [-1, H]) : undefined;
  let dh = dYs && dYhD ? c.op('Add', [dYs[first]!, dYhD]) : (dYs?.[first] ?? dYhD!);
  const Ps = new Array<string>(T);
  let dH0: string | undefined;
  order.forEach((t, k) => {
    const P = mul(reshape(dh, [-1, 1, H]), Ks[t]!);
    Ps[t] = P;
    const next = order[k + 1];
    const P2 = reshape(P, [-1, K_ROWS * H]);
    if (next !== undefined) dh = c.op('Gemm', dYs ? [P2, R5, dYs[next]!] : [P2, R5]);
    else if (c.needsGrad(5)) dH0 = c.op('Gemm', [P2, R5]);
  });

  // Parameter gradients over all steps at once: dXw = [dz̃, dr̃, dñ], dHr = [dz̃, dr̃, dñ·r].
  const Pall = T === 1 ? Ps[0]! : c.op('Concat', Ps, { axis: 0 });
  const dXw = reshape(slice(Pall, 0, 3, 2), [-1, 3 * H]);
  const dHr = reshape(c.op('Gather', [Pall, ints([0, 1, 3])], { axis: 2 }), [-1, 3 * H]);
  // dWᵀ = Xᵀ·dXw, then a [I, 3H] transpose: MLAS ran the long-K GEMM with I (6) as its rows 2× faster
  // than with 3H (192) in isolation (1 thread, K = 3,200).
  const dW = c.op('Transpose', [c.op('Gemm', [reshape(X, [-1, I]), dXw], { transA: 1 })], { perm: [1, 0] });
  const dR = c.op('Gemm', [dHr, reshape(hPrev, [-1, H])], { transA: 1 });
  const sum0 = (v: string) => c.op('ReduceSum', [v, ints([0])], { keepdims: 0 });
  const out: DirectionGrads = { dW, dR };
  if (hasB) out.dB = c.op('Concat', [sum0(dXw), sum0(dHr)], { axis: 0 });
  if (c.needsGrad(0)) out.dX = reshape(c.op('MatMul', [dXw, W]), [T, -1, I]);
  if (dH0) out.dH0 = dH0;
  return out;
}

function gruGrad(c: GradContext): (string | undefined)[] {
  const T = c.shape(c.input(0)).dynamic[0] ? undefined : c.dims(c.input(0))[0];
  const why = fusedGruUnsupported(c.node, T);
  if (why) c.fail(`the fused GRU gradient does not cover ${why} (lower it: train/lower/recurrent.ts)`);
  const direction = c.attrString('direction', 'forward');
  const dirs = direction === 'bidirectional' ? [false, true] : [direction === 'reverse'];
  const per = dirs.map((rev, d) => directionGrad(c, d, dirs.length, rev));
  if (!per[0]) return [];
  const H = c.dims(c.input(2))[2]!;
  const I = c.dims(c.input(0))[2]!;
  const stack = (vs: string[], dims: number[]) =>
    vs.length === 1
      ? c.op('Reshape', [vs[0]!, c.ints([1, ...dims])])
      : c.op(
          'Concat',
          vs.map((v) => c.op('Reshape', [v, c.ints([1, ...dims])])),
          { axis: 0 },
        );
  const gs = per as DirectionGrads[];
  const dXs = gs.map((g) => g.dX).filter((v): v is string => !!v);
  return [
    dXs.length === 0 ? undefined : dXs.length === 1 ? dXs[0] : c.op('Sum', dXs),
    stack(
      gs.map((g) => g.dW),
      [3 * H, I],
    ),
    stack(
      gs.map((g) => g.dR),
      [3 * H, H],
    ),
    c.has(3)
      ? stack(
          gs.map((g) => g.dB!),
          [6 * H],
        )
      : undefined,
    undefined,
    gs.every((g) => g.dH0)
      ? stack(
          gs.map((g) => g.dH0!),
          [-1, H],
        )
      : undefined,
  ];
}

export const GRU: GradRule = {
  op: 'GRU',
  // The backward reads every step's hidden state: make sure the node outputs Y.
  trainingForward: (c: LowerContext) => {
    const outputs = [...c.node.outputs];
    if (!outputs[0]) outputs[0] = c.g.uniqueName(`${c.node.name || 'gru'}_Y`);
    c.g.graph.nodes.push({ ...c.node, outputs });
  },
  grad: gruGrad,
};
