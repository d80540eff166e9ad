/**
 * Raise a model's default-domain opset without changing what it computes: the nodes whose
 * signature changed between the two versions are rewritten (attributes that became inputs, the
 * flattening Softmax of opset < 13), every other node is kept as it is. The trainer uses it to
 * differentiate an opset-13 export with opset-18 ops (ScatterElements reduction=add) while the
 * saved inference model keeps the original opset and nodes.
 */
import { VergeError } from '../errors.ts';
import { cloneModel, GraphBuilder } from './builder.ts';
import type { DType } from './dtype.ts';
import { defaultOpset, irVersionForOpset, isDefaultDomain, type Attribute, type Model, type Node } from './ir.ts';
import { inferShapes } from './shape/index.ts';

/** Oldest opset the upgrade reads (Slice/Pad/Clip/Dropout with attributes, Softmax with flattening). */
export const MIN_UPGRADE_OPSET = 7;
/** IR version an opset-18+ model needs (onnxruntime refuses opset 18 with IR < 8). */
const IR_FOR_OPSET_18 = irVersionForOpset(18);

/** Reductions whose `axes` attribute became an input at opset 18 (ReduceSum moved at 13). */
const REDUCE_AXES_INPUT_18 = new Set([
  'ReduceMean',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
]);

/** Ops whose change between versions this module cannot express: refused when crossed. */
const UNCONVERTIBLE: Record<string, number> = {
  // Upsample was replaced by Resize (opset 10) whose coordinate modes differ from opset 11's.
  Upsample: 10,
  Resize: 11,
  Scatter: 11,
};

interface UpgradeContext {
  g: GraphBuilder;
  from: number;
  to: number;
  dtypeOf: (value: string) => DType;
}

/** Does the upgrade cross the version `since` at which an op's signature changed? */
function crosses(c: UpgradeContext, since: number): boolean {
  return c.from < since && since <= c.to;
}

function withoutAttr(node: Node, ...names: string[]): Record<string, Attribute> {
  const attrs = { ...node.attributes };
  for (const n of names) delete attrs[n];
  return attrs;
}

function intsAttr(node: Node, name: string): number[] | undefined {
  const a = node.attributes[name];
  return a && a.type === 'ints' ? [...a.value] : undefined;
}

function floatAttr(node: Node, name: string): number | undefined {
  const a = node.attributes[name];
  return a && (a.type === 'float' || a.type === 'int') ? a.value : undefined;
}

/** Attribute `name` (ints) moved to input position `index`; absent attribute = omitted input. */
function attrToIntsInput(c: UpgradeContext, node: Node, name: string, index: number): Node {
  const values = intsAttr(node, name);
  const inputs = [...node.inputs];
  while (inputs.length < index) inputs.push('');
  if (values) inputs[index] = c.g.constInt64(values, [values.length], `${node.name || node.opType}_${name}`);
  return { ...node, inputs, attributes: withoutAttr(node, name) };
}

function scalarInput(c: UpgradeContext, node: Node, value: number, dtype: DType, label: string): string {
  return c.g.initializer(`${node.name || node.opType}_${label}`, dtype, [], [value]);
}

/** Rewrite one node from opset `from` to `to`; returns the replacement nodes (usually one). */
function upgradeNode(c: UpgradeContext, node: Node): Node[] {
  const op = node.opType;
  const refusedSince = UNCONVERTIBLE[op];
  if (refusedSince !== undefined && crosses(c, refusedSince))
    throw new VergeError(
      'E_UNSUPPORTED',
      `${op} node '${node.name}': cannot raise opset ${c.from} to ${c.to} (its semantics changed at opset ${refusedSince}); re-export the model at opset ${refusedSince} or newer`,
    );
  if ((op === 'Squeeze' || op === 'Unsqueeze' || op === 'ReduceSum') && crosses(c, 13))
    return [attrToIntsInput(c, node, 'axes', 1)];
  if (REDUCE_AXES_INPUT_18.has(op) && crosses(c, 18)) return [attrToIntsInput(c, node, 'axes', 1)];
  if (op === 'Split') {
    let n = node;
    if (crosses(c, 13)) n = attrToIntsInput(c, n, 'split', 1);
    if (crosses(c, 18) && !n.inputs[1] && !n.attributes.num_outputs)
      n = { ...n, attributes: { ...n.attributes, num_outputs: { type: 'int', value: n.outputs.length } } };
    return [n];
  }
  if (op === 'Slice' && crosses(c, 10)) {
    const inputs = [node.inputs[0]!];
    for (const name of ['starts', 'ends', 'axes']) {
      const v = intsAttr(node, name);
      inputs.push(v ? c.g.constInt64(v, [v.length], `${node.name || op}_${name}`) : '');
    }
    while (inputs.at(-1) === '') inputs.pop();
    return [{ ...node, inputs, attributes: {} }];
  }
  if (op === 'Clip' && crosses(c, 11)) {
    const dtype = c.dtypeOf(node.inputs[0]!);
    const lo = floatAttr(node, 'min');
    const hi = floatAttr(node, 'max');
    const inputs = [
      node.inputs[0]!,
      lo !== undefined ? scalarInput(c, node, lo, dtype, 'min') : '',
      hi !== undefined ? scalarInput(c, node, hi, dtype, 'max') : '',
    ];
    while (inputs.at(-1) === '') inputs.pop();
    return [{ ...node, inputs, attributes: {} }];
  }
  if (op === 'Pad' && crosses(c, 11)) {
    const pads = intsAttr(node, 'pads') ?? [];
    const value = floatAttr(node, 'value') ?? 0;
    const inputs = [node.inputs[0]!, c.g.constInt64(pads, [pads.length], `${node.name || op}_pads`)];
    if (value !== 0) inputs.push(scalarInput(c, node, value, c.dtypeOf(node.inputs[0]!), 'value'));
    return [{ ...node, inputs, attributes: withoutAttr(node, 'pads', 'value') }];
  }
  if (op === 'Dropout' && crosses(c, 12)) {
    const ratio = floatAttr(node, 'ratio') ?? 0.5;
    const inputs = [node.inputs[0]!, scalarInput(c, node, ratio, 'float32', 'ratio')];
    return [{ ...node, inputs, attributes: withoutAttr(node, 'ratio', 'is_test') }];
  }
  if (op === 'TopK' && crosses(c, 10)) {
    const k = node.attributes.k;
    const kv = k && k.type === 'int' ? k.value : 1;
    return [
      {
        ...node,
        inputs: [node.inputs[0]!, c.g.constInt64([kv], [1], `${node.name || op}_k`)],
        attributes: withoutAttr(node, 'k'),
      },
    ];
  }
  if ((op === 'Softmax' || op === 'LogSoftmax' || op === 'Hardmax') && crosses(c, 13))
    return flatteningSoftmax(c, node);
  return [node];
}

/**
 * Before opset 13, Softmax(axis=a) flattened its input to 2-D at `a` and normalised each row;
 * from 13 it normalises along `a` alone. Flatten → Softmax(last axis) → Reshape back is exact.
 */
function flatteningSoftmax(c: UpgradeContext, node: Node): Node[] {
  const a = node.attributes.axis;
  const axis = a && a.type === 'int' ? a.value : 1;
  const x = node.inputs[0]!;
  const base = node.name || node.opType;
  const flat = c.g.uniqueName(`${base}_flat`);
  const soft = c.g.uniqueName(`${base}_rows`);
  const shape = c.g.uniqueName(`${base}_shape`);
  const mk = (opType: string, inputs: string[], outputs: string[], attributes: Node['attributes'] = {}): Node => ({
    name: c.g.uniqueName(`${base}_${opType}`),
    opType,
    domain: node.domain,
    inputs,
    outputs,
    attributes,
  });
  return [
    mk('Flatten', [x], [flat], { axis: { type: 'int', value: axis } }),
    mk(node.opType, [flat], [soft], { axis: { type: 'int', value: 1 } }),
    mk('Shape', [x], [shape]),
    { ...mk('Reshape', [soft, shape], [node.outputs[0]!]), name: node.name || c.g.uniqueName(`${base}_Reshape`) },
  ];
}

/**
 * A copy of `model` importing default-domain opset `target` (at least its own), computing the
 * same outputs. Nodes inside subgraphs (If/Loop bodies) are refused when they would need a rewrite.
 */
export function upgradeOpset(model: Model, target: number): Model {
  const from = defaultOpset(model);
  if (from === undefined) throw new VergeError('E_GRAPH_INVALID', 'the model imports no default-domain opset');
  if (target <= from) return model;
  if (from < MIN_UPGRADE_OPSET)
    throw new VergeError(
      'E_UNSUPPORTED',
      `model uses opset ${from}; verge reads opset ${MIN_UPGRADE_OPSET} or newer (re-export the model)`,
    );
  const m = cloneModel(model);
  let types: ReturnType<typeof inferShapes> | undefined;
  const dtypeOf = (value: string): DType => {
    types ??= inferShapes(model);
    const t = types.get(value);
    return t?.dtype ?? 'float32';
  };
  const g = new GraphBuilder(m.graph);
  const c: UpgradeContext = { g, from, to: target, dtypeOf };
  const nodes = m.graph.nodes;
  m.graph.nodes = [];
  for (const node of nodes) {
    if (!isDefaultDomain(node.domain)) {
      m.graph.nodes.push(node);
      continue;
    }
    if (Object.values(node.attributes).some((a) => a.type === 'graph' || a.type === 'graphs')) checkSubgraphs(c, node);
    m.graph.nodes.push(...upgradeNode(c, node));
  }
  m.opsetImports = m.opsetImports.map((o) => (isDefaultDomain(o.domain) ? { ...o, version: target } : o));
  if (target >= 18) m.irVersion = Math.max(m.irVersion, IR_FOR_OPSET_18);
  return m;
}

function checkSubgraphs(c: UpgradeContext, node: Node): void {
  const probe: UpgradeContext = { ...c, g: new GraphBuilder() };
  for (const a of Object.values(node.attributes)) {
    const graphs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
    for (const sub of graphs)
      for (const n of sub.nodes) {
        if (!isDefaultDomain(n.domain)) continue;
        const out = upgradeNode(probe, n);
        if (out.length !== 1 || out[0] !== n)
          throw new VergeError(
            'E_UNSUPPORTED',
            `${n.opType} node '${n.name}' inside ${node.opType} '${node.name}' would need a rewrite to raise opset ${c.from} to ${c.to}`,
          );
      }
  }
}
