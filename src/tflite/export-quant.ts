/**
 * Quantized (QDQ) ONNX models → the annotations a TFLite int8 export needs.
 *
 * verge's static int8 models (src/optimize/quantize/static.ts) are float graphs with
 * QuantizeLinear → DequantizeLinear pairs on activations and DequantizeLinear on int8 weights and
 * int32 biases. `readQdq` takes the pairs and constant dequantizations out: it returns the float
 * graph (dequantized constants as float32 initializers, whose exact values the exporter quantizes
 * back), the integer parameters of each such constant, and the scale and zero point of each
 * quantized activation. uint8 activations (zero point z) become int8 ones (z − 128): the same real
 * values, TFLite's int8 scheme. Other quantized forms (QLinear* / *Integer operators, Q/DQ
 * arrangements other than these) are refused in one line naming them.
 */
import { VergeError } from '../errors.ts';
import { numel, type Model, type Node, type Tensor } from '../onnx/browser.ts';

/** Scale(s) and zero point(s) of an int8 (or int32 bias) tensor, per channel along `axis` when more than one. */
export interface QuantParamsOut {
  scale: number[];
  zeroPoint: number[];
  axis: number;
}

export interface QuantizedConstant extends QuantParamsOut {
  dtype: 'int8' | 'int32';
}

export interface QdqModel {
  model: Model;
  constants: Map<string, QuantizedConstant>;
  activations: Map<string, QuantParamsOut>;
}

function numbers(t: Tensor): number[] {
  if (t.storage === 'external' || t.data.length !== numel(t.dims))
    throw new VergeError('E_UNSUPPORTED', `initializer '${t.name}' has external or missing data`);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

function axisOf(n: Node, rank: number): number {
  const a = n.attributes.axis;
  const v = a?.type === 'int' ? a.value : 1;
  return v < 0 ? v + rank : v;
}

/** True for QDQ models (any QuantizeLinear / DequantizeLinear). */
export function isQdq(model: Model): boolean {
  return model.graph.nodes.some((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear');
}

export function readQdq(model: Model, source: string): QdqModel {
  const g = model.graph;
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const params = (n: Node, what: string) => {
    const s = inits.get(n.inputs[1]!);
    const z = n.inputs[2] ? inits.get(n.inputs[2]) : undefined;
    if (!s || (n.inputs[2] && !z))
      throw new VergeError('E_UNSUPPORTED', `${source}: ${what} '${n.name || n.outputs[0]}' has computed scales`);
    const scale = numbers(s);
    return { scale, zeroPoint: z ? numbers(z) : scale.map(() => 0), zDtype: z?.dtype };
  };
  const removed = new Set<Node>();
  const rename = new Map<string, string>();
  const constants = new Map<string, QuantizedConstant>();
  const made: Tensor[] = [];
  const activations = new Map<string, QuantParamsOut>();
  for (const n of g.nodes) {
    if (n.opType === 'DequantizeLinear' && inits.has(n.inputs[0]!)) {
      const q = inits.get(n.inputs[0]!)!;
      if (q.dtype !== 'int8' && q.dtype !== 'uint8' && q.dtype !== 'int32')
        throw new VergeError('E_UNSUPPORTED', `${source}: ${q.dtype} constant '${q.name}' (TFLite: int8 or int32)`);
      const p = params(n, 'DequantizeLinear');
      const axis = axisOf(n, q.dims.length);
      const raw = numbers(q);
      const per = p.scale.length > 1 ? numel(q.dims.slice(axis + 1)) : 1;
      const values = Float32Array.from(raw, (v, i) => {
        const c = p.scale.length > 1 ? Math.floor(i / per) % p.scale.length : 0;
        return p.scale[c]! * (v - p.zeroPoint[c]!);
      });
      made.push({ name: n.outputs[0]!, dtype: 'float32', dims: q.dims, data: values } as Tensor);
      // uint8 constants (activation-style operands of Add/Mul) shift to int8 like activations
      const shift = q.dtype === 'uint8' ? 128 : 0;
      constants.set(n.outputs[0]!, {
        dtype: q.dtype === 'int32' ? 'int32' : 'int8',
        scale: p.scale,
        zeroPoint: p.zeroPoint.map((z) => z - shift),
        axis,
      });
      removed.add(n);
    } else if (n.opType === 'QuantizeLinear') {
      const dqs = consumers.get(n.outputs[0]!) ?? [];
      const p = params(n, 'QuantizeLinear');
      if (
        dqs.length === 0 ||
        dqs.some(
          (d) => d.opType !== 'DequantizeLinear' || d.inputs[1] !== n.inputs[1] || d.inputs[2] !== n.inputs[2],
        ) ||
        p.scale.length !== 1 ||
        g.outputs.some((o) => o.name === n.outputs[0])
      )
        throw new VergeError(
          'E_UNSUPPORTED',
          `${source}: QuantizeLinear '${n.name || n.outputs[0]}' is not a per-tensor QuantizeLinear → DequantizeLinear pair (verge exports QDQ models of this form to TFLite)`,
        );
      const shift = p.zDtype === 'uint8' ? 128 : 0;
      activations.set(n.inputs[0]!, { scale: p.scale, zeroPoint: [p.zeroPoint[0]! - shift], axis: 0 });
      removed.add(n);
      for (const d of dqs) {
        rename.set(d.outputs[0]!, n.inputs[0]!);
        removed.add(d);
      }
    }
  }
  const left = g.nodes.filter(
    (n) => (n.opType === 'DequantizeLinear' || n.opType === 'QuantizeLinear') && !removed.has(n),
  );
  if (left.length)
    throw new VergeError(
      'E_UNSUPPORTED',
      `${source}: ${left[0]!.opType} '${left[0]!.name || left[0]!.outputs[0]}' is not part of a QDQ pair or a constant's dequantization`,
    );
  const resolve = (name: string) => rename.get(name) ?? name;
  const nodes = g.nodes.filter((n) => !removed.has(n)).map((n) => ({ ...n, inputs: n.inputs.map(resolve) }));
  // a graph output produced by a DequantizeLinear keeps its name: an Identity from the quantized value
  const outputNodes: Node[] = g.outputs
    .filter((o) => rename.has(o.name))
    .map(
      (o) =>
        ({
          opType: 'Identity',
          domain: '',
          name: `${o.name}_out`,
          inputs: [resolve(o.name)],
          outputs: [o.name],
          attributes: {},
        }) as Node,
    );
  const used = new Set([...nodes, ...outputNodes].flatMap((n) => n.inputs));
  const initializers = [...g.initializers.filter((t) => used.has(t.name)), ...made.filter((t) => used.has(t.name))];
  return {
    model: { ...model, graph: { ...g, nodes: [...nodes, ...outputNodes], initializers } },
    constants,
    activations,
  };
}
