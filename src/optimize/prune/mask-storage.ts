/**
 * The 'mask' layout of a pruned weight: its non-zero values plus a bitmask of where they go, both
 * plain initializers, and a few standard ONNX ops (opset ≥ 11) that rebuild the dense tensor:
 *
 *   bits   = Cast<int32>(Slice(Reshape(Mod(BitShift(Reshape(mask, [-1, 1]), [0..7]), 2), [-1]), 0, n))
 *   weight = Reshape(Gather([0, values…], CumSum(bits) · bits), dims)
 *
 * Every input is an initializer, so onnxruntime folds the whole chain into the dense weight when
 * it loads the model. Cost per element: 1 bit + the value if non-zero — 0.23× the dense bytes at
 * 80% sparsity — and, unlike sparse initializers with int16 indices, the ONNX checker accepts it
 * (sparse initializers need int64 indices there: 12 bytes per non-zero, 0.6× at 80%).
 */
import { makeTensor, type Graph, type Node, type Tensor } from '../../onnx/browser.ts';

/** Marks the nodes that rebuild a masked weight (so densify can fold them). */
export const MASKED_WEIGHT_DOC = 'verge: rebuilds a pruned weight from its mask and values';
/** CumSum and BitShift arrived in opset 11. */
export const MASKED_MIN_OPSET = 11;

type Values = Float32Array | Int8Array | Uint8Array;

/** Bytes of the masked layout for n elements with nnz non-zeros (values + bitmask). */
export function maskedBytes(n: number, nnz: number, elementBytes: number): number {
  return (nnz + 1) * elementBytes + Math.ceil(n / 8);
}

function packMask(data: Values): Uint8Array {
  const mask = new Uint8Array(Math.ceil(data.length / 8));
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) mask[i >> 3]! |= 1 << (i & 7);
  return mask;
}

function nonZeroValues(data: Values): Values {
  let nnz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nnz++;
  // index 0 holds a zero: masked-out positions gather it
  const out = new (data.constructor as new (n: number) => Values)(1 + nnz);
  let k = 1;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) out[k++] = data[i]!;
  return out;
}

function node(name: string, opType: string, inputs: string[], output: string, attrs: Node['attributes'] = {}): Node {
  return { name, opType, domain: '', inputs, outputs: [output], attributes: attrs, docString: MASKED_WEIGHT_DOC };
}

/**
 * Replace weight `t` by values + mask initializers and the nodes that rebuild it (output named
 * like `t`, so its consumers do not change). Returns the initializers and nodes to add.
 */
export function maskedWeight(t: Tensor): { initializers: Tensor[]; nodes: Node[] } {
  const data = t.data as Values;
  const p = `${t.name}__m`;
  const n = data.length;
  const values = nonZeroValues(data);
  const initializers = [
    makeTensor(`${p}_values`, t.dtype, [values.length], values),
    makeTensor(`${p}_bits`, 'uint8', [Math.ceil(n / 8)], packMask(data)),
    makeTensor(`${p}_col`, 'int64', [2], [-1, 1]),
    makeTensor(`${p}_shifts`, 'uint8', [8], [0, 1, 2, 3, 4, 5, 6, 7]),
    makeTensor(`${p}_two`, 'uint8', [], [2]),
    makeTensor(`${p}_flat`, 'int64', [1], [-1]),
    makeTensor(`${p}_start`, 'int64', [1], [0]),
    makeTensor(`${p}_end`, 'int64', [1], [n]),
    makeTensor(`${p}_axis`, 'int32', [], [0]),
    makeTensor(`${p}_dims`, 'int64', [t.dims.length], t.dims),
  ];
  const nodes = [
    node(`${p}_column`, 'Reshape', [`${p}_bits`, `${p}_col`], `${p}_bytes`),
    node(`${p}_shift`, 'BitShift', [`${p}_bytes`, `${p}_shifts`], `${p}_shifted`, {
      direction: { type: 'string', value: 'RIGHT' },
    }),
    node(`${p}_lowbit`, 'Mod', [`${p}_shifted`, `${p}_two`], `${p}_bit8`),
    node(`${p}_flatten`, 'Reshape', [`${p}_bit8`, `${p}_flat`], `${p}_bitsflat`),
    node(`${p}_trim`, 'Slice', [`${p}_bitsflat`, `${p}_start`, `${p}_end`], `${p}_bitsn`),
    node(`${p}_cast`, 'Cast', [`${p}_bitsn`], `${p}_keep`, { to: { type: 'int', value: 6 } }), // int32
    node(`${p}_count`, 'CumSum', [`${p}_keep`, `${p}_axis`], `${p}_rank`),
    node(`${p}_index`, 'Mul', [`${p}_rank`, `${p}_keep`], `${p}_idx`),
    node(`${p}_gather`, 'Gather', [`${p}_values`, `${p}_idx`], `${p}_dense`, { axis: { type: 'int', value: 0 } }),
    node(`${p}_shape`, 'Reshape', [`${p}_dense`, `${p}_dims`], t.name),
  ];
  return { initializers, nodes };
}

/** Fold masked weights back into dense initializers (before fine-tuning, quantizing, …). In place. */
export function foldMaskedWeights(g: Graph): void {
  const byName = new Map(g.initializers.map((t) => [t.name, t]));
  const outputs = g.nodes.filter((n) => n.docString === MASKED_WEIGHT_DOC && n.name.endsWith('__m_shape'));
  if (outputs.length === 0) return;
  const prefixes: string[] = [];
  for (const out of outputs) {
    const p = out.name.slice(0, -'_shape'.length);
    const values = byName.get(`${p}_values`);
    const bits = byName.get(`${p}_bits`);
    const dims = byName.get(`${p}_dims`);
    if (!values || !bits || !dims) continue;
    const shape = Array.from(dims.data as BigInt64Array, Number);
    const n = shape.reduce((a, b) => a * b, 1);
    const v = values.data as Values;
    const dense = new (v.constructor as new (n: number) => Values)(n);
    const mask = bits.data as Uint8Array;
    for (let i = 0, k = 1; i < n; i++) if ((mask[i >> 3]! >> (i & 7)) & 1) dense[i] = v[k++]!;
    g.initializers.push(makeTensor(out.outputs[0]!, values.dtype, shape, dense));
    prefixes.push(`${p}_`);
  }
  const ours = (name: string) => prefixes.some((p) => name.startsWith(p));
  g.nodes = g.nodes.filter((n) => !(n.docString === MASKED_WEIGHT_DOC && ours(n.name)));
  g.initializers = g.initializers.filter((t) => !ours(t.name));
}
