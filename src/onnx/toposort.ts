/**
 * Topological order of a graph's nodes. ONNX requires nodes in topological order, but graphs
 * edited by passes (or written by other tools) may not be; toposort() restores it, keeping the
 * original order wherever it already is valid, and names the node when there is a cycle.
 */
import { VergeError } from '../errors.ts';
import type { Graph, Node } from './ir.ts';

/** Subgraphs held by a node's attributes (If branches, Loop/Scan bodies). */
export function subgraphsOf(node: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of Object.values(node.attributes)) {
    if (a.type === 'graph') out.push(a.value);
    else if (a.type === 'graphs') out.push(...a.value);
  }
  return out;
}

/**
 * Names a subgraph reads from enclosing scopes: used by its nodes (recursively) but not defined
 * inside it (by its inputs, initializers or nodes).
 */
export function outerScopeReads(graph: Graph): Set<string> {
  const defined = new Set<string>();
  for (const v of graph.inputs) defined.add(v.name);
  for (const t of graph.initializers) defined.add(t.name);
  for (const s of graph.sparseInitializers) defined.add(s.values.name);
  for (const n of graph.nodes) for (const o of n.outputs) if (o) defined.add(o);
  const reads = new Set<string>();
  const visit = (name: string) => {
    if (name && !defined.has(name)) reads.add(name);
  };
  for (const n of graph.nodes) {
    n.inputs.forEach(visit);
    for (const sg of subgraphsOf(n)) outerScopeReads(sg).forEach(visit);
  }
  for (const o of graph.outputs) visit(o.name);
  return reads;
}

/** Every value a node reads: its inputs plus what its subgraphs read from this scope. */
export function nodeReads(node: Node): string[] {
  const reads = node.inputs.filter((i) => i !== '');
  for (const sg of subgraphsOf(node)) reads.push(...outerScopeReads(sg));
  return reads;
}

function describeNode(n: Node, index: number): string {
  return `${n.name ? `'${n.name}'` : `#${index}`} (${n.opType})`;
}

/**
 * Nodes in an order where every node comes after the producers of what it reads. Stable: when
 * the graph is already sorted, the order is unchanged. Values no node produces (graph inputs,
 * initializers, outer-scope names, dangling names) impose no constraint; validateGraph() reports
 * dangling ones. Throws E_GRAPH_INVALID on a cycle.
 */
export function toposort(graph: Graph): Node[] {
  const nodes = graph.nodes;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o && !producer.has(o)) producer.set(o, i);
  });
  const pending = new Array<number>(nodes.length).fill(0);
  const consumers: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const deps = new Set<number>();
    for (const r of nodeReads(n)) {
      const p = producer.get(r);
      if (p !== undefined) deps.add(p);
    }
    pending[i] = deps.size;
    for (const d of deps) consumers[d]!.push(i);
  });
  // ready nodes, smallest original index first (a binary min-heap keeps this O(n log n))
  const heap: number[] = [];
  const push = (v: number) => {
    heap.push(v);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= heap[i]!) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && heap[l]! < heap[m]!) m = l;
        if (r < heap.length && heap[r]! < heap[m]!) m = r;
        if (m === i) break;
        [heap[m], heap[i]] = [heap[i]!, heap[m]!];
        i = m;
      }
    }
    return top;
  };
  pending.forEach((p, i) => p === 0 && push(i));
  const order: Node[] = [];
  while (heap.length) {
    const i = pop();
    order.push(nodes[i]!);
    for (const c of consumers[i]!) if (--pending[c]! === 0) push(c);
  }
  if (order.length < nodes.length) {
    const stuck = pending.findIndex((p) => p > 0);
    const n = nodes[stuck]!;
    const waitsOn = nodeReads(n).find((r) => {
      const p = producer.get(r);
      return p !== undefined && pending[p]! > 0;
    });
    throw new VergeError(
      'E_GRAPH_INVALID',
      `graph '${graph.name}' has a cycle: node ${describeNode(n, stuck)} depends on '${waitsOn}', which is produced downstream of it`,
    );
  }
  return order;
}

/** The graph with its nodes in topological order (a new Graph; the input is not changed). */
export function sortGraph(graph: Graph): Graph {
  return { ...graph, nodes: toposort(graph) };
}
