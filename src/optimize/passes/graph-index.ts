/**
 * Lookups every pass needs over one graph: which node produces a value, which nodes consume it,
 * which values are initializers. Built once per pass over the pass's own (cloned) graph.
 */
import type { Graph, Node, Tensor } from '../../onnx/browser.ts';

export class GraphIndex {
  readonly producer = new Map<string, Node>();
  readonly consumers = new Map<string, Node[]>();
  readonly initializers = new Map<string, Tensor>();
  readonly graphOutputs: Set<string>;
  readonly graphInputs: Set<string>;

  constructor(readonly graph: Graph) {
    for (const t of graph.initializers) this.initializers.set(t.name, t);
    this.graphOutputs = new Set(graph.outputs.map((o) => o.name));
    // An input that is also an initializer is an overridable default, not a constant.
    this.graphInputs = new Set(graph.inputs.map((i) => i.name));
    for (const n of graph.nodes) {
      for (const o of n.outputs) if (o) this.producer.set(o, n);
      for (const i of new Set(n.inputs)) {
        if (!i) continue;
        const list = this.consumers.get(i);
        if (list) list.push(n);
        else this.consumers.set(i, [n]);
      }
      for (const i of subgraphCaptures(n)) {
        const list = this.consumers.get(i);
        if (list) list.push(n);
        else this.consumers.set(i, [n]);
      }
    }
  }

  consumersOf(value: string): Node[] {
    return this.consumers.get(value) ?? [];
  }

  /** A constant: an initializer that a caller cannot override through a graph input. */
  constant(value: string): Tensor | undefined {
    if (this.graphInputs.has(value)) return undefined;
    return this.initializers.get(value);
  }

  /** Only consumer of `value`, when it has exactly one and is not a graph output. */
  soleConsumer(value: string): Node | undefined {
    const c = this.consumersOf(value);
    return c.length === 1 && !this.graphOutputs.has(value) ? c[0] : undefined;
  }
}

/**
 * Names a node's subgraphs (If/Loop/Scan bodies) read from the enclosing scope. Passes must treat
 * them as uses, or they would delete values the subgraphs still need.
 */
export function subgraphCaptures(node: Node): Set<string> {
  const captured = new Set<string>();
  for (const a of Object.values(node.attributes)) {
    const graphs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
    for (const g of graphs) collectFreeNames(g, captured);
  }
  return captured;
}

function collectFreeNames(g: Graph, out: Set<string>): void {
  const local = new Set<string>([...g.inputs.map((i) => i.name), ...g.initializers.map((t) => t.name)]);
  for (const s of g.sparseInitializers) local.add(s.values.name);
  for (const n of g.nodes) for (const o of n.outputs) local.add(o);
  for (const n of g.nodes) {
    for (const i of n.inputs) if (i && !local.has(i)) out.add(i);
    for (const inner of subgraphCaptures(n)) if (!local.has(inner)) out.add(inner);
  }
  for (const o of g.outputs) if (!local.has(o.name)) out.add(o.name);
}

/** Rename every use of `from` to `to` in node inputs (not in graph outputs). */
export function replaceUses(graph: Graph, from: string, to: string): void {
  for (const n of graph.nodes) {
    for (let k = 0; k < n.inputs.length; k++) if (n.inputs[k] === from) n.inputs[k] = to;
  }
}

/** Integer attribute with a default. */
export function intAttr(node: Node, name: string, dflt: number): number {
  const a = node.attributes[name];
  return a && a.type === 'int' ? a.value : dflt;
}
export function intsAttr(node: Node, name: string): number[] | undefined {
  const a = node.attributes[name];
  return a && a.type === 'ints' ? a.value : undefined;
}
export function floatAttr(node: Node, name: string, dflt: number): number {
  const a = node.attributes[name];
  if (!a) return dflt;
  return a.type === 'float' || a.type === 'int' ? a.value : dflt;
}

/** Integer values of an int64/int32 initializer as JS numbers. */
export function intValues(t: Tensor): number[] | undefined {
  if (t.data instanceof BigInt64Array) return Array.from(t.data, (v) => Number(v));
  if (t.data instanceof Int32Array) return Array.from(t.data);
  return undefined;
}
