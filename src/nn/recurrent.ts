/**
 * GRU and LSTM cells written out in primitive ONNX ops (MatMul, Add, Sub, Mul, Sigmoid, Tanh,
 * Slice, Split, Reshape, Transpose, Concat), unrolled over a fixed sequence length, with the exact
 * semantics and tensor layouts of ONNX's GRU and LSTM operators. Used by nn's GRU/LSTM layers and
 * by the lowering pass in train/lower that rewrites imported GRU/LSTM nodes, so autodiff only ever
 * sees primitives. Parameters keep ONNX's packed layout (W [dirs, gates·H, I], R [dirs, gates·H, H],
 * B [dirs, 2·gates·H]) and are sliced inside the graph, so a trained unrolled model's parameters
 * drop straight back into a fused GRU/LSTM node.
 */
import { VergeError } from '../errors.ts';
import { type GraphBuilder, DEFAULT_OPSET } from '../onnx/browser.ts';

export type RecurrentCell = 'GRU' | 'LSTM';
export type RecurrentDirection = 'forward' | 'reverse' | 'bidirectional';

export interface RecurrentSpec {
  cell: RecurrentCell;
  hidden: number;
  seqLen: number;
  /** 0: X [T, B, I], Y [T, dirs, B, H], states [dirs, B, H]; 1: X [B, T, I], Y [B, T, dirs, H], states [B, dirs, H]. */
  layout: 0 | 1;
  direction: RecurrentDirection;
  /** GRU only: apply the reset gate after the recurrent matmul (PyTorch's form). */
  linearBeforeReset?: boolean;
  /**
   * LSTM only: clamp the cell state to [−cellClip, cellClip] after each update — TFLite's
   * `cell_clip` (ONNX's `clip` attribute is another thing: it clips the gates' pre-activations).
   */
  cellClip?: number;
  /** ONNX `activations` attribute: per direction [f, g] (GRU) or [f, g, h] (LSTM). Default Sigmoid/Tanh. */
  activations?: string[];
  /** Default-domain opset of the graph emitted into (Split's signature changed at 18). Default DEFAULT_OPSET. */
  opset?: number;
}

export interface RecurrentInputs {
  X: string;
  W: string;
  R: string;
  B?: string;
  initialH?: string;
  initialC?: string;
  /** LSTM peepholes [dirs, 3·H] (i, o, f). */
  P?: string;
}

/** Which outputs to produce: an exact value name, true for an automatic name, or absent to skip. */
export interface RecurrentWanted {
  Y?: string | boolean;
  Yh?: string | boolean;
  Yc?: string | boolean;
}

export interface RecurrentOutputs {
  Y?: string;
  Yh?: string;
  Yc?: string;
}

const SUPPORTED_ACTIVATIONS = ['Sigmoid', 'Tanh', 'Relu'];

/**
 * Long because: the one GRU/LSTM lowering: checks, then the constants and helpers that
 * runDirection (the unrolled cell of one direction, ~100 lines) shares, then the outputs;
 * splitting it would pass those helpers around.
 */
export function emitRecurrent(
  g: GraphBuilder,
  spec: RecurrentSpec,
  io: RecurrentInputs,
  want: RecurrentWanted,
): RecurrentOutputs {
  const H = spec.hidden;
  const T = spec.seqLen;
  const G = spec.cell === 'GRU' ? 3 : 4;
  const perDir = spec.cell === 'GRU' ? 2 : 3;
  const dirs: boolean[] = spec.direction === 'bidirectional' ? [false, true] : [spec.direction === 'reverse'];
  if (!(Number.isInteger(T) && T > 0))
    throw new VergeError('E_UNSUPPORTED', `${spec.cell}: unrolling needs a fixed sequence length, got ${T}`);
  if (!(Number.isInteger(H) && H > 0))
    throw new VergeError('E_BAD_ARGUMENT', `${spec.cell}: hidden size must be a positive integer, got ${H}`);
  const defaults = spec.cell === 'GRU' ? ['Sigmoid', 'Tanh'] : ['Sigmoid', 'Tanh', 'Tanh'];
  const acts = spec.activations && spec.activations.length > 0 ? spec.activations : dirs.flatMap(() => defaults);
  if (acts.length !== perDir * dirs.length) {
    throw new VergeError(
      'E_GRAPH_INVALID',
      `${spec.cell}: ${acts.length} activations given, ${perDir * dirs.length} needed`,
    );
  }
  for (const a of acts) {
    if (!SUPPORTED_ACTIVATIONS.includes(a)) {
      throw new VergeError(
        'E_UNSUPPORTED',
        `${spec.cell} activation '${a}' cannot be lowered (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`,
      );
    }
  }

  const consts = new Map<string, string>();
  const ints = (v: number[]): string => {
    const key = v.join(',');
    let name = consts.get(key);
    if (!name) consts.set(key, (name = g.constInt64(v, [v.length], 'rnn_const')));
    return name;
  };
  const slice = (x: string, start: number, end: number, axis: number): string =>
    g.op('Slice', [x, ints([start]), ints([end]), ints([axis])]);
  const reshape = (x: string, shape: number[], output?: string): string =>
    g.op('Reshape', [x, ints(shape)], {}, output ? { output } : {});
  const act = (name: string, x: string): string => g.op(name, [x]);
  const cellClip =
    spec.cellClip && spec.cell === 'LSTM'
      ? { lo: g.scalar(-spec.cellClip, 'float32', 'rnn_clip'), hi: g.scalar(spec.cellClip, 'float32', 'rnn_clip') }
      : undefined;
  const seqAxis = spec.layout === 0 ? 0 : 1;
  const stateAxis = spec.layout === 0 ? 0 : 1;

  interface DirResult {
    hs: string[];
    lastH: string;
    lastC?: string;
  }

  const runDirection = (d: number, reverse: boolean): DirResult => {
    const [f, gAct, hAct] = acts.slice(d * perDir, (d + 1) * perDir) as [string, string, string?];
    const wT = g.op('Transpose', [reshape(slice(io.W, d, d + 1, 0), [G * H, -1])], { perm: [1, 0] }); // [I, G·H]
    const rT = g.op('Transpose', [reshape(slice(io.R, d, d + 1, 0), [G * H, H])], { perm: [1, 0] }); // [H, G·H]
    let xBias: string | undefined;
    let recurrentHBias: string | undefined; // GRU with linear_before_reset: Rbh stays inside r ⊙ (…)
    if (io.B) {
      const bd = reshape(slice(io.B, d, d + 1, 0), [2 * G * H]);
      const wb = slice(bd, 0, G * H, 0);
      const rb = slice(bd, G * H, 2 * G * H, 0);
      if (spec.cell === 'GRU' && spec.linearBeforeReset) {
        // z and r take both biases outside; the candidate takes only Wbh here (Rbh goes inside r ⊙ (…)).
        // No float constants: training would treat a float initializer as a parameter.
        const zr = g.op('Add', [slice(wb, 0, 2 * H, 0), slice(rb, 0, 2 * H, 0)]);
        xBias = g.op('Concat', [zr, slice(wb, 2 * H, 3 * H, 0)], { axis: 0 });
        recurrentHBias = slice(rb, 2 * H, 3 * H, 0);
      } else {
        xBias = g.op('Add', [wb, rb]);
      }
    }
    // Input projections of all time steps in one MatMul, cut into steps by one Split: its gradient
    // is one Concat, where T Slices would give T zero-padded full-sequence tensors to sum (measured:
    // 76% of a GRU training step's kernel time, bench/train-models).
    // Time-major (layout 0): split [T·B, G·H] rows, so every step is [B, G·H] with no Reshape per
    // step (nor one per step in the gradient).
    let xw = g.op('MatMul', [io.X, wT]);
    if (xBias) xw = g.op('Add', [xw, xBias]);
    const flat = spec.layout === 0 && T > 1;
    const xSteps =
      T === 1
        ? [xw]
        : g.node(
            'Split',
            [flat ? reshape(xw, [-1, G * H]) : xw],
            { axis: flat ? 0 : seqAxis, ...((spec.opset ?? DEFAULT_OPSET) >= 18 ? { num_outputs: T } : {}) },
            { outputs: T },
          );
    let hPrev = io.initialH ? reshape(slice(io.initialH, d, d + 1, stateAxis), [-1, H]) : undefined;
    let cPrev = io.initialC ? reshape(slice(io.initialC, d, d + 1, stateAxis), [-1, H]) : undefined;
    let peep: { i: string; o: string; f: string } | undefined;
    if (io.P) {
      const pd = reshape(slice(io.P, d, d + 1, 0), [3 * H]);
      peep = { i: slice(pd, 0, H, 0), o: slice(pd, H, 2 * H, 0), f: slice(pd, 2 * H, 3 * H, 0) };
    }
    let rzrT: string | undefined;
    let rhT: string | undefined;
    if (spec.cell === 'GRU' && !spec.linearBeforeReset) {
      rzrT = slice(rT, 0, 2 * H, 1);
      rhT = slice(rT, 2 * H, 3 * H, 1);
    }
    const hs = new Array<string>(T);
    for (let step = 0; step < T; step++) {
      const t = reverse ? T - 1 - step : step;
      const xt = flat ? xSteps[t]! : reshape(xSteps[t]!, [-1, G * H]);
      if (spec.cell === 'GRU') {
        const xzr = slice(xt, 0, 2 * H, 1);
        const xh = slice(xt, 2 * H, 3 * H, 1);
        let zrPre = xzr;
        let hr: string | undefined;
        if (hPrev) {
          if (spec.linearBeforeReset) {
            hr = g.op('MatMul', [hPrev, rT]);
            zrPre = g.op('Add', [xzr, slice(hr, 0, 2 * H, 1)]);
          } else {
            zrPre = g.op('Add', [xzr, g.op('MatMul', [hPrev, rzrT!])]);
          }
        }
        const zr = act(f, zrPre);
        const z = slice(zr, 0, H, 1);
        const r = () => slice(zr, H, 2 * H, 1);
        let hPre = xh;
        if (spec.linearBeforeReset) {
          let inner = hr ? slice(hr, 2 * H, 3 * H, 1) : undefined;
          if (recurrentHBias) inner = inner ? g.op('Add', [inner, recurrentHBias]) : recurrentHBias;
          if (inner) hPre = g.op('Add', [xh, g.op('Mul', [r(), inner])]);
        } else if (hPrev) {
          hPre = g.op('Add', [xh, g.op('MatMul', [g.op('Mul', [r(), hPrev]), rhT!])]);
        }
        const hh = act(gAct, hPre);
        // H = (1 - z) ⊙ h̃ + z ⊙ H_prev, written as h̃ + z ⊙ (H_prev - h̃).
        hPrev = hPrev
          ? g.op('Add', [hh, g.op('Mul', [z, g.op('Sub', [hPrev, hh])])])
          : g.op('Sub', [hh, g.op('Mul', [z, hh])]);
      } else {
        const gates = hPrev ? g.op('Add', [xt, g.op('MatMul', [hPrev, rT])]) : xt;
        let iPre = slice(gates, 0, H, 1);
        let oPre = slice(gates, H, 2 * H, 1);
        let fPre = slice(gates, 2 * H, 3 * H, 1);
        const cPre = slice(gates, 3 * H, 4 * H, 1);
        if (peep && cPrev) {
          iPre = g.op('Add', [iPre, g.op('Mul', [peep.i, cPrev])]);
          fPre = g.op('Add', [fPre, g.op('Mul', [peep.f, cPrev])]);
        }
        const iGate = act(f, iPre);
        const cand = act(gAct, cPre);
        const ic = g.op('Mul', [iGate, cand]);
        let c = cPrev ? g.op('Add', [g.op('Mul', [act(f, fPre), cPrev]), ic]) : ic;
        if (cellClip) c = g.op('Clip', [c, cellClip.lo, cellClip.hi]);
        if (peep) oPre = g.op('Add', [oPre, g.op('Mul', [peep.o, c])]);
        const oGate = act(f, oPre);
        hPrev = g.op('Mul', [oGate, act(hAct!, c)]);
        cPrev = c;
      }
      hs[t] = hPrev;
    }
    return { hs, lastH: hPrev!, ...(cPrev ? { lastC: cPrev } : {}) };
  };

  const results = dirs.map((reverse, d) => runDirection(d, reverse));
  const outName = (w: string | boolean | undefined): string | undefined =>
    typeof w === 'string' && w !== '' ? w : undefined;
  const out: RecurrentOutputs = {};
  const nd = dirs.length;

  if (want.Y) {
    const stepShape = spec.layout === 0 ? [1, 1, -1, H] : [-1, 1, 1, H];
    const yName = nd === 1 && outName(want.Y) ? { output: outName(want.Y)! } : {};
    const perDirY = results.map((res) =>
      spec.layout === 0
        ? // [B, H] steps stacked as rows, one Reshape to [T, 1, B, H] (one per step otherwise).
          g.op('Reshape', [g.op('Concat', res.hs, { axis: 0 }), ints([T, 1, -1, H])], {}, yName)
        : g.op(
            'Concat',
            res.hs.map((h) => reshape(h, stepShape)),
            { axis: seqAxis },
            yName,
          ),
    );
    out.Y =
      nd === 1
        ? perDirY[0]!
        : g.op(
            'Concat',
            perDirY,
            { axis: spec.layout === 0 ? 1 : 2 },
            outName(want.Y) ? { output: outName(want.Y)! } : {},
          );
  }
  const stateOut = (pick: (r: DirResult) => string, w: string | boolean): string => {
    const shape = spec.layout === 0 ? [1, -1, H] : [-1, 1, H];
    const name = outName(w);
    if (nd === 1) return reshape(pick(results[0]!), shape, name);
    return g.op(
      'Concat',
      results.map((r) => reshape(pick(r), shape)),
      { axis: stateAxis },
      name ? { output: name } : {},
    );
  };
  if (want.Yh) out.Yh = stateOut((r) => r.lastH, want.Yh);
  if (want.Yc) {
    if (spec.cell !== 'LSTM') throw new VergeError('E_BAD_ARGUMENT', `Y_c exists only for LSTM`);
    out.Yc = stateOut((r) => r.lastC!, want.Yc);
  }
  return out;
}
