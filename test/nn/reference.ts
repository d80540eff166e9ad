/**
 * Plain-JS reference computations for nn layer tests: straightforward loops written from the
 * textbook definitions (and PyTorch's documented semantics), independent of the ONNX emitters.
 */

export interface NdArray {
  dims: number[];
  data: Float32Array;
}

export function conv2d(
  x: NdArray,
  w: NdArray,
  b: Float32Array | undefined,
  o: { stride: [number, number]; pads: [number, number, number, number]; dilation: [number, number]; groups: number },
): NdArray {
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [F, Cg, KH, KW] = w.dims as [number, number, number, number];
  const [sh, sw] = o.stride;
  const [pt, pl, pb, pr] = o.pads;
  const [dh, dw] = o.dilation;
  const OH = Math.floor((H + pt + pb - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + pl + pr - dw * (KW - 1) - 1) / sw) + 1;
  const out = new Float32Array(N * F * OH * OW);
  const fPerG = F / o.groups;
  for (let n = 0; n < N; n++)
    for (let f = 0; f < F; f++) {
      const g = Math.floor(f / fPerG);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b[f]! : 0;
          for (let c = 0; c < Cg; c++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * sh - pt + kh * dh;
                const iw = ow * sw - pl + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += x.data[((n * C + g * Cg + c) * H + ih) * W + iw]! * w.data[((f * Cg + c) * KH + kh) * KW + kw]!;
              }
          out[((n * F + f) * OH + oh) * OW + ow] = s;
        }
    }
  return { dims: [N, F, OH, OW], data: out };
}

export function pool2d(
  x: NdArray,
  k: [number, number],
  s: [number, number],
  pads: [number, number, number, number],
  mode: 'max' | 'avg',
): NdArray {
  const [N, C, H, W] = x.dims as [number, number, number, number];
  const [pt, pl, pb, pr] = pads;
  const OH = Math.floor((H + pt + pb - k[0]) / s[0]) + 1;
  const OW = Math.floor((W + pl + pr - k[1]) / s[1]) + 1;
  const out = new Float32Array(N * C * OH * OW);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = mode === 'max' ? -Infinity : 0;
          let count = 0;
          for (let kh = 0; kh < k[0]; kh++)
            for (let kw = 0; kw < k[1]; kw++) {
              const ih = oh * s[0] - pt + kh;
              const iw = ow * s[1] - pl + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const v = x.data[((n * C + c) * H + ih) * W + iw]!;
              acc = mode === 'max' ? Math.max(acc, v) : acc + v;
              count++;
            }
          out[((n * C + c) * OH + oh) * OW + ow] = mode === 'max' ? acc : acc / count;
        }
  return { dims: [N, C, OH, OW], data: out };
}

/** y = x·W + b for x [N, in], W [in, out]. */
export function dense(x: NdArray, w: NdArray, b?: Float32Array): NdArray {
  const [N, I] = x.dims as [number, number];
  const O = w.dims[1]!;
  const out = new Float32Array(N * O);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      let s = b ? b[o]! : 0;
      for (let i = 0; i < I; i++) s += x.data[n * I + i]! * w.data[i * O + o]!;
      out[n * O + o] = s;
    }
  return { dims: [N, O], data: out };
}

export const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/**
 * GRU as PyTorch documents it (reset gate applied after the recurrent matmul), over ONNX's packed
 * parameter layout W [1, 3H, I] (gates z, r, n), R [1, 3H, H], B [1, 6H]. x [N, T, I] -> h_T [N, H].
 */
export function gruLastState(x: NdArray, W: Float32Array, R: Float32Array, B: Float32Array, H: number): Float32Array {
  const [N, T, I] = x.dims as [number, number, number];
  const out = new Float32Array(N * H);
  for (let n = 0; n < N; n++) {
    let h = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      const xt = x.data.subarray((n * T + t) * I, (n * T + t + 1) * I);
      const gx = (gate: number, j: number) => {
        let s = B[gate * H + j]!;
        for (let i = 0; i < I; i++) s += W[(gate * H + j) * I + i]! * xt[i]!;
        return s;
      };
      const gh = (gate: number, j: number) => {
        let s = B[3 * H + gate * H + j]!;
        for (let k = 0; k < H; k++) s += R[(gate * H + j) * H + k]! * h[k]!;
        return s;
      };
      const next = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const z = sigmoid(gx(0, j) + gh(0, j));
        const r = sigmoid(gx(1, j) + gh(1, j));
        const cand = Math.tanh(gx(2, j) + r * gh(2, j));
        next[j] = (1 - z) * cand + z * h[j]!;
      }
      h = next;
    }
    out.set(h, n * H);
  }
  return out;
}

/** LSTM (gates i, o, f, c in ONNX's packed order), x [N, T, I] -> h_T [N, H]. */
export function lstmLastState(x: NdArray, W: Float32Array, R: Float32Array, B: Float32Array, H: number): Float32Array {
  const [N, T, I] = x.dims as [number, number, number];
  const out = new Float32Array(N * H);
  for (let n = 0; n < N; n++) {
    let h = new Float64Array(H);
    let c = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      const xt = x.data.subarray((n * T + t) * I, (n * T + t + 1) * I);
      const pre = (gate: number, j: number) => {
        let s = B[gate * H + j]! + B[4 * H + gate * H + j]!;
        for (let i = 0; i < I; i++) s += W[(gate * H + j) * I + i]! * xt[i]!;
        for (let k = 0; k < H; k++) s += R[(gate * H + j) * H + k]! * h[k]!;
        return s;
      };
      const nh = new Float64Array(H);
      const nc = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const ig = sigmoid(pre(0, j));
        const og = sigmoid(pre(1, j));
        const fg = sigmoid(pre(2, j));
        const cand = Math.tanh(pre(3, j));
        nc[j] = fg * c[j]! + ig * cand;
        nh[j] = og * Math.tanh(nc[j]!);
      }
      h = nh;
      c = nc;
    }
    out.set(h, n * H);
  }
  return out;
}
