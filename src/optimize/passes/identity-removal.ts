/**
 * Identity and inference-mode Dropout removal: both pass their input through unchanged at
 * inference, so their consumers can read the input directly.
 */
import { cloneModel, isDefaultDomain, type Graph, type Model, type Node } from '../../onnx/browser.ts';
import { GraphIndex, replaceUses, subgraphCaptures } from './graph-index.ts';

export function removeIdentities(model: Model): Model {
  const out = cloneModel(model);
  const g = out.graph;
  let changed = true;
  while (changed) {
    changed = false;
    const index = new GraphIndex(g);
    for (const node of g.nodes) {
      if (!isPassThrough(node, index)) continue;
      if (bypass(g, index, node)) {
        changed = true;
        break; // indexes are stale after an edit; rebuild
      }
    }
  }
  return out;
}

function isPassThrough(node: Node, index: GraphIndex): boolean {
  if (!isDefaultDomain(node.domain)) return false;
  if (node.opType === 'Identity') return node.inputs.length === 1 && !!node.inputs[0];
  if (node.opType !== 'Dropout') return false;
  // The mask output must be unused: it is not a pass-through value.
  const mask = node.outputs[1];
  if (mask && (index.consumersOf(mask).length > 0 || index.graphOutputs.has(mask))) return false;
  // opset >= 12: Dropout drops only when its training_mode input is true.
  const mode = node.inputs[2];
  if (mode) {
    const t = index.constant(mode);
    if (!t || !(t.data instanceof Uint8Array) || t.data[0] !== 0) return false;
  }
  return !!node.inputs[0];
}

/** Remove one pass-through node if its output can be rewired; returns whether it did. */
function bypass(g: Graph, index: GraphIndex, node: Node): boolean {
  const x = node.inputs[0]!;
  const y = node.outputs[0]!;
  // Values captured by subgraphs keep their name: renaming inside bodies is not worth the risk.
  if (index.consumersOf(y).some((c) => subgraphCaptures(c).has(y))) return false;
  if (!index.graphOutputs.has(y)) {
    replaceUses(g, y, x);
  } else {
    // y names a graph output: rename x's producer output to y instead, when x is only an
    // intermediate value (not a graph input, initializer or another output).
    const producer = index.producer.get(x);
    if (!producer || index.graphOutputs.has(x)) return false;
    if (index.consumersOf(x).some((c) => subgraphCaptures(c).has(x))) return false;
    producer.outputs = producer.outputs.map((o) => (o === x ? y : o));
    replaceUses(g, x, y);
    for (const v of g.valueInfo) if (v.name === x) v.name = `${y}`;
    g.valueInfo = g.valueInfo.filter((v, i, all) => all.findIndex((w) => w.name === v.name) === i);
  }
  g.nodes = g.nodes.filter((n) => n !== node);
  return true;
}
