/**
 * Dead-node elimination: keep only the nodes that graph outputs depend on, then drop initializers
 * (dense and sparse), value infos and initializer-backed inputs that nothing uses any more.
 */
import { cloneModel, type Graph, type Model } from '../../onnx/browser.ts';
import { subgraphCaptures } from './graph-index.ts';

export function eliminateDeadNodes(model: Model): Model {
  const out = cloneModel(model);
  eliminateDeadNodesInPlace(out.graph);
  return out;
}

/** The in-place form, for passes that clean up after themselves on their own clone. */
export function eliminateDeadNodesInPlace(graph: Graph): void {
  const needed = new Set(graph.outputs.map((o) => o.name));
  const keep = new Array<boolean>(graph.nodes.length).fill(false);
  // Nodes are topologically sorted in a valid ONNX graph, so one backward sweep suffices.
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const n = graph.nodes[k]!;
    if (!n.outputs.some((o) => o && needed.has(o))) continue;
    keep[k] = true;
    for (const i of n.inputs) if (i) needed.add(i);
    for (const c of subgraphCaptures(n)) needed.add(c);
  }
  graph.nodes = graph.nodes.filter((_, k) => keep[k]);
  removeUnusedInitializers(graph, needed);
  const produced = new Set<string>(graph.nodes.flatMap((n) => n.outputs));
  graph.valueInfo = graph.valueInfo.filter((v) => produced.has(v.name));
}

/** Drop initializers nobody reads; `used` defaults to every node input and graph output. */
export function removeUnusedInitializers(graph: Graph, used?: Set<string>): void {
  const reads =
    used ??
    new Set<string>([
      ...graph.outputs.map((o) => o.name),
      ...graph.nodes.flatMap((n) => [...n.inputs, ...subgraphCaptures(n)]),
    ]);
  const dropped = new Set<string>();
  graph.initializers = graph.initializers.filter((t) => reads.has(t.name) || (dropped.add(t.name), false));
  graph.sparseInitializers = graph.sparseInitializers.filter(
    (s) => reads.has(s.values.name) || (dropped.add(s.values.name), false),
  );
  // Old models (IR < 4) list every initializer as a graph input too; an unused one goes with it.
  graph.inputs = graph.inputs.filter((i) => !dropped.has(i.name));
}
