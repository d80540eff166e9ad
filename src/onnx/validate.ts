/**
 * Structural validation of a model before verge transforms or runs it: every value read is
 * defined (subgraphs may read the enclosing graphs' values), every value is defined once, the
 * graph is acyclic and the model imports an opset for each domain its nodes use. Each problem is
 * one E_GRAPH_INVALID line naming the node, so a user can find it in Netron or the exporter.
 */
import { VergeError } from '../errors.ts';
import { isDefaultDomain, type Graph, type Model, type Node } from './ir.ts';
import { subgraphsOf, toposort } from './toposort.ts';

function nodeLabel(n: Node, index: number): string {
  return `node ${n.name ? `'${n.name}'` : `#${index}`} (${n.domain && !isDefaultDomain(n.domain) ? `${n.domain}:` : ''}${n.opType || 'no op type'})`;
}

function fail(graph: Graph, message: string): never {
  throw new VergeError('E_GRAPH_INVALID', `${graph.name ? `graph '${graph.name}': ` : ''}${message}`);
}

/**
 * Validate one graph. `outerScope`: names visible from enclosing graphs (for If/Loop/Scan bodies).
 * Throws VergeError E_GRAPH_INVALID on the first problem.
 */
export function validateGraph(graph: Graph, outerScope: Iterable<string> = []): void {
  const outer = new Set(outerScope);
  const defined = new Map<string, string>(); // name -> what defines it
  const define = (name: string, what: string) => {
    const prior = defined.get(name);
    if (prior !== undefined) fail(graph, `'${name}' is defined twice: by ${prior} and by ${what}`);
    defined.set(name, what);
  };
  const inputNames = new Set<string>();
  for (const v of graph.inputs) {
    if (inputNames.has(v.name)) fail(graph, `graph input '${v.name}' is declared twice`);
    inputNames.add(v.name);
  }
  const initNames = new Set<string>();
  for (const t of [...graph.initializers, ...graph.sparseInitializers.map((s) => s.values)]) {
    if (!t.name) fail(graph, 'an initializer has no name');
    if (initNames.has(t.name)) fail(graph, `initializer '${t.name}' is declared twice`);
    initNames.add(t.name);
  }
  // an initializer may also be listed as a graph input (an input with a default value, IR < 4 style)
  for (const name of inputNames)
    define(name, initNames.has(name) ? `initializer and graph input '${name}'` : `graph input '${name}'`);
  for (const name of initNames) if (!inputNames.has(name)) define(name, `initializer '${name}'`);

  graph.nodes.forEach((n, i) => {
    if (!n.opType) fail(graph, `${nodeLabel(n, i)} has no op type`);
    for (const o of n.outputs) if (o) define(o, nodeLabel(n, i));
  });

  const visible = (name: string) => defined.has(name) || outer.has(name);
  graph.nodes.forEach((n, i) => {
    for (const input of n.inputs) {
      if (input && !visible(input)) {
        fail(graph, `${nodeLabel(n, i)} reads '${input}', which no node, graph input or initializer defines`);
      }
    }
  });
  for (const o of graph.outputs) {
    if (!visible(o.name)) fail(graph, `graph output '${o.name}' is not produced by any node, input or initializer`);
  }

  toposort(graph); // throws E_GRAPH_INVALID naming a node on a cycle

  const scope = new Set([...outer, ...defined.keys()]);
  graph.nodes.forEach((n, i) => {
    for (const sg of subgraphsOf(n)) {
      try {
        validateGraph(sg, scope);
      } catch (e) {
        if (e instanceof VergeError) throw new VergeError(e.code, `in a subgraph of ${nodeLabel(n, i)}: ${e.message}`);
        throw e;
      }
    }
  });
}

function domainsUsed(graph: Graph, out: Map<string, string>): Map<string, string> {
  graph.nodes.forEach((n, i) => {
    const d = isDefaultDomain(n.domain) ? '' : n.domain;
    if (!out.has(d)) out.set(d, nodeLabel(n, i));
    for (const sg of subgraphsOf(n)) domainsUsed(sg, out);
  });
  return out;
}

/** Validate a model: opset imports for every domain used, then the main graph (see validateGraph). */
export function validateModel(model: Model): void {
  const imported = new Set(model.opsetImports.map((o) => (isDefaultDomain(o.domain) ? '' : o.domain)));
  const functionDomains = new Set((model.functions ?? []).map((f) => f.domain));
  for (const [domain, firstUser] of domainsUsed(model.graph, new Map())) {
    if (imported.has(domain)) continue;
    if (domain === '') {
      throw new VergeError(
        'E_GRAPH_INVALID',
        `the model imports no opset for the default ONNX domain, but ${firstUser} and other standard ops need one (add opset_import {domain: '', version: N})`,
      );
    }
    if (functionDomains.has(domain)) continue; // local functions may be called under their own domain
    throw new VergeError(
      'E_GRAPH_INVALID',
      `${firstUser} uses domain '${domain}', which the model does not import in opset_import`,
    );
  }
  validateGraph(model.graph);
}
