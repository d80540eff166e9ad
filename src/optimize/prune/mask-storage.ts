/**
 * The 'mask' layout of a pruned weight: its non-zero values plus a bitmask of where they go, both
 * plain initializers, and a few standard ONNX ops that rebuild the dense tensor. From opset 11:
 *
 *   bits   = Cast<int32>(Slice(Reshape(Mod(BitShift(Reshape(mask, [-1, 1]), [0..7]), 2), [-1]), 0, n))
 *   weight = Reshape(Gather([0, values…], CumSum(bits) · bits), dims)
 *
 * Opsets 9 and 10 have no CumSum or BitShift; there the bits come from integer division and the
 * values are scattered to the positions NonZero finds (the mask's padding bits are zero):
 *
 *   q      = Div(Cast<int32>(Reshape(mask, [-1, 1])), [1, 2, 4, …, 128])
 *   bits   = Reshape(q − 2·Div(q, 2), [-1])
 *   weight = Reshape(Scatter(ConstantOfShape([n], 0), Reshape(NonZero(bits), [-1]), values), dims)
 *
 * Every input is an initializer, so onnxruntime folds the whole chain into the dense weight when
 * it loads the model. Cost per element: 1 bit + the value if non-zero — 0.23× the dense bytes at
 * 80% sparsity — and, unlike sparse initializers with int16 indices, the ONNX checker accepts it
 * (sparse initializers need int64 indices there: 12 bytes per non-zero, 0.6× at 80%). Below opset
 * 9 (no NonZero, Scatter or ConstantOfShape) pruned weights stay dense (sparse-storage.ts).
 */
import { VergeError } from '../../errors.ts';
import { makeTensor, type Graph, type Node, type Tensor } from '../../onnx/browser.ts';

/** Marks the nodes that rebuild a masked weight (so densify can fold them). */
export const MASKED_WEIGHT_DOC = 'verge: rebuilds a pruned weight from its mask and values';
/** CumSum and BitShift (the Gather rebuild) arrived in opset 11. */
export const MASKED_GATHER_MIN_OPSET = 11;
/** NonZero, Scatter and ConstantOfShape (the Scatter rebuild) arrived in opset 9. */
export const MASKED_MIN_OPSET = 9;

type Values = Float32Array | Int8Array | Uint8Array;
/** TensorProto.DataType INT32, for Cast. */
const INT32 = 6;

/** Bytes of the masked layout for n elements with nnz non-zeros (values + bitmask). */
export function maskedBytes(n: number, nnz: number, elementBytes: number): number {
  return (nnz + 1) * elementBytes + Math.ceil(n / 8);
}

function packMask(data: Values): Uint8Array {
  const mask = new Uint8Array(Math.ceil(data.length / 8));
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) mask[i >> 3]! |= 1 << (i & 7);
  return mask;
}

/** The non-zero values in order, after `lead` zeros (the Gather rebuild reads a zero at index 0). */
function nonZeroValues(data: Values, lead: 0 | 1): Values {
  let nnz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nnz++;
  const out = new (data.constructor as new (n: number) => Values)(lead + nnz);
  let k = lead;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) out[k++] = data[i]!;
  return out;
}

function node(name: string, opType: string, inputs: string[], output: string, attrs: Node['attributes'] = {}): Node {
  return { name, opType, domain: '', inputs, outputs: [output], attributes: attrs, docString: MASKED_WEIGHT_DOC };
}

/**
 * Replace weight `t` by values + mask initializers and the nodes that rebuild it (output named
 * like `t`, so its consumers do not change), with the ops of the model's `opset` (≥ 9). Returns
 * the initializers and nodes to add.
 */
export function maskedWeight(t: Tensor, opset: number): { initializers: Tensor[]; nodes: Node[] } {
  if (opset < MASKED_MIN_OPSET)
    throw new VergeError(
      'E_UNSUPPORTED',
      `opset ${opset} has no ops to rebuild a masked weight (NonZero, Scatter: opset ${MASKED_MIN_OPSET})`,
    );
  return opset >= MASKED_GATHER_MIN_OPSET ? gatherRebuild(t) : scatterRebuild(t);
}

/**
 * What both rebuilds store: the values (named `${p}_<valuesName>`, after `lead` zeros), the bitmask,
 * and the shapes that turn it into a column and a flat vector and the result into `t`'s dims.
 */
function maskInitializers(t: Tensor, valuesName: string, lead: 0 | 1): { p: string; n: number; stored: Tensor[] } {
  const data = t.data as Values;
  const p = `${t.name}__m`;
  const values = nonZeroValues(data, lead);
  const stored = [
    makeTensor(`${p}_${valuesName}`, t.dtype, [values.length], values),
    makeTensor(`${p}_bits`, 'uint8', [Math.ceil(data.length / 8)], packMask(data)),
    makeTensor(`${p}_col`, 'int64', [2], [-1, 1]),
    makeTensor(`${p}_flat`, 'int64', [1], [-1]),
    makeTensor(`${p}_dims`, 'int64', [t.dims.length], t.dims),
  ];
  return { p, n: data.length, stored };
}

/** Opset ≥ 11: the rank of each kept bit (CumSum) gathers its value from [0, values…]. */
function gatherRebuild(t: Tensor): { initializers: Tensor[]; nodes: Node[] } {
  const { p, n, stored } = maskInitializers(t, 'values', 1);
  const initializers = [
    ...stored,
    makeTensor(`${p}_shifts`, 'uint8', [8], [0, 1, 2, 3, 4, 5, 6, 7]),
    makeTensor(`${p}_two`, 'uint8', [], [2]),
    makeTensor(`${p}_start`, 'int64', [1], [0]),
    makeTensor(`${p}_end`, 'int64', [1], [n]),
    makeTensor(`${p}_axis`, 'int32', [], [0]),
  ];
  const nodes = [
    node(`${p}_column`, 'Reshape', [`${p}_bits`, `${p}_col`], `${p}_bytes`),
    node(`${p}_shift`, 'BitShift', [`${p}_bytes`, `${p}_shifts`], `${p}_shifted`, {
      direction: { type: 'string', value: 'RIGHT' },
    }),
    node(`${p}_lowbit`, 'Mod', [`${p}_shifted`, `${p}_two`], `${p}_bit8`),
    node(`${p}_flatten`, 'Reshape', [`${p}_bit8`, `${p}_flat`], `${p}_bitsflat`),
    node(`${p}_trim`, 'Slice', [`${p}_bitsflat`, `${p}_start`, `${p}_end`], `${p}_bitsn`),
    node(`${p}_cast`, 'Cast', [`${p}_bitsn`], `${p}_keep`, { to: { type: 'int', value: INT32 } }),
    node(`${p}_count`, 'CumSum', [`${p}_keep`, `${p}_axis`], `${p}_rank`),
    node(`${p}_index`, 'Mul', [`${p}_rank`, `${p}_keep`], `${p}_idx`),
    node(`${p}_gather`, 'Gather', [`${p}_values`, `${p}_idx`], `${p}_dense`, { axis: { type: 'int', value: 0 } }),
    node(`${p}_shape`, 'Reshape', [`${p}_dense`, `${p}_dims`], t.name),
  ];
  return { initializers, nodes };
}

/**
 * Opsets 9–10: bits by integer division (q − 2·⌊q/2⌋ of q = byte / 2^k), the values scattered into
 * zeros at the positions of the set bits (NonZero). The padding bits of the last mask byte are
 * zero, so every position is below n.
 */
function scatterRebuild(t: Tensor): { initializers: Tensor[]; nodes: Node[] } {
  const { p, n, stored } = maskInitializers(t, 'nonzeros', 0);
  const initializers = [
    ...stored,
    makeTensor(`${p}_powers`, 'int32', [8], [1, 2, 4, 8, 16, 32, 64, 128]),
    makeTensor(`${p}_two`, 'int32', [], [2]),
    makeTensor(`${p}_n`, 'int64', [1], [n]),
  ];
  const zero = makeTensor(`${p}_zero`, t.dtype, [1], [0]);
  const nodes = [
    node(`${p}_column`, 'Reshape', [`${p}_bits`, `${p}_col`], `${p}_bytes`),
    node(`${p}_cast`, 'Cast', [`${p}_bytes`], `${p}_bytes32`, { to: { type: 'int', value: INT32 } }),
    node(`${p}_shift`, 'Div', [`${p}_bytes32`, `${p}_powers`], `${p}_shifted`),
    node(`${p}_half`, 'Div', [`${p}_shifted`, `${p}_two`], `${p}_half`),
    node(`${p}_even`, 'Mul', [`${p}_half`, `${p}_two`], `${p}_even`),
    node(`${p}_lowbit`, 'Sub', [`${p}_shifted`, `${p}_even`], `${p}_bit8`),
    node(`${p}_flatten`, 'Reshape', [`${p}_bit8`, `${p}_flat`], `${p}_bitsflat`),
    node(`${p}_where`, 'NonZero', [`${p}_bitsflat`], `${p}_where`),
    node(`${p}_positions`, 'Reshape', [`${p}_where`, `${p}_flat`], `${p}_pos`),
    node(`${p}_zeros`, 'ConstantOfShape', [`${p}_n`], `${p}_zeros`, { value: { type: 'tensor', value: zero } }),
    node(`${p}_scatter`, 'Scatter', [`${p}_zeros`, `${p}_pos`, `${p}_nonzeros`], `${p}_dense`, {
      axis: { type: 'int', value: 0 },
    }),
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
    // the Gather rebuild's values start with a zero, the Scatter rebuild's do not
    const gathered = byName.get(`${p}_values`);
    const values = gathered ?? byName.get(`${p}_nonzeros`);
    const bits = byName.get(`${p}_bits`);
    const dims = byName.get(`${p}_dims`);
    if (!values || !bits || !dims) continue;
    const shape = Array.from(dims.data as BigInt64Array, Number);
    const n = shape.reduce((a, b) => a * b, 1);
    const v = values.data as Values;
    const dense = new (v.constructor as new (n: number) => Values)(n);
    const mask = bits.data as Uint8Array;
    for (let i = 0, k = gathered ? 1 : 0; i < n; i++) if ((mask[i >> 3]! >> (i & 7)) & 1) dense[i] = v[k++]!;
    g.initializers.push(makeTensor(out.outputs[0]!, values.dtype, shape, dense));
    prefixes.push(`${p}_`);
  }
  const ours = (name: string) => prefixes.some((p) => name.startsWith(p));
  g.nodes = g.nodes.filter((n) => !(n.docString === MASKED_WEIGHT_DOC && ours(n.name)));
  g.initializers = g.initializers.filter((t) => !ours(t.name));
}
