/**
 * validateModel / validateGraph / toposort: every failure named by the brief is caused here and
 * must give one E_GRAPH_INVALID line naming the node; valid models (all PyTorch fixtures, all
 * 1,072 backend-suite models) pass.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { VergeError } from '../../src/errors.ts';
import { GraphBuilder, makeModel } from '../../src/onnx/builder.ts';
import { decodeModel } from '../../src/onnx/codec.ts';
import { emptyGraph, type Graph, type Model } from '../../src/onnx/ir.ts';
import { loadModel } from '../../src/onnx/io.ts';
import { sortGraph, toposort } from '../../src/onnx/toposort.ts';
import { validateGraph, validateModel } from '../../src/onnx/validate.ts';
import { SMALL_FIXTURES, fixturePath } from '../fixtures/index.ts';
import { backendSuiteSkipReason, listSuiteModels } from './backend-suite.ts';

function errorOf(f: () => unknown): VergeError {
  try {
    f();
  } catch (e) {
    if (e instanceof VergeError) return e;
    throw e;
  }
  throw new Error('expected a VergeError');
}

/** x -> Relu(r1) -> Neg(r2) -> y */
function chain(): GraphBuilder {
  const b = new GraphBuilder();
  b.input('x', 'float32', [2]);
  b.op('Relu', ['x'], {}, { name: 'relu', output: 'r1' });
  b.op('Neg', ['r1'], {}, { name: 'neg', output: 'r2' });
  b.output('r2', 'float32', [2]);
  return b;
}

describe('validateModel', () => {
  it('accepts the PyTorch fixtures', () => {
    for (const name of SMALL_FIXTURES) expect(() => validateModel(loadModel(fixturePath(name)))).not.toThrow();
  });

  const skip = backendSuiteSkipReason();
  it.skipIf(!!skip && process.env.CI !== 'true')(
    `accepts all backend-suite models${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      const invalid: string[] = [];
      for (const m of listSuiteModels()) {
        try {
          validateModel(decodeModel(new Uint8Array(readFileSync(m.modelPath)), m.id));
        } catch (e) {
          invalid.push(`${m.id}: ${(e as Error).message}`);
        }
      }
      expect(invalid).toEqual([]);
    },
  );

  it('dangling input: names the node and the missing value', () => {
    const b = chain();
    b.graph.nodes[1]!.inputs = ['r_typo'];
    const e = errorOf(() => validateModel(makeModel(b.graph)));
    expect(e.code).toBe('E_GRAPH_INVALID');
    expect(e.message).toMatch(/node 'neg' \(Neg\) reads 'r_typo'/);
    expect(e.message).not.toMatch(/\n/);
  });

  it('duplicate outputs: names both producers', () => {
    const b = chain();
    b.graph.nodes[1]!.outputs = ['r1'];
    const e = errorOf(() => validateModel(makeModel(b.graph)));
    expect(e.message).toMatch(/'r1' is defined twice: by node 'relu' \(Relu\) and by node 'neg' \(Neg\)/);
  });

  it('a node output that overwrites a graph input or initializer', () => {
    const b = chain();
    b.graph.nodes[0]!.outputs = ['x'];
    expect(errorOf(() => validateModel(makeModel(b.graph))).message).toMatch(
      /'x' is defined twice: by graph input 'x' and by node 'relu'/,
    );
    const c = chain();
    const w = c.initializer('w', 'float32', [2]);
    c.graph.nodes[1]!.outputs = [w];
    expect(errorOf(() => validateModel(makeModel(c.graph))).message).toMatch(
      /'w' is defined twice: by initializer 'w' and by node 'neg'/,
    );
  });

  it('initializer name clashes: duplicate initializers, dense vs sparse; input+initializer is allowed', () => {
    const b = chain();
    b.initializer('w', 'float32', [2]);
    b.graph.initializers.push({ ...b.graph.initializers[0]! });
    expect(errorOf(() => validateModel(makeModel(b.graph))).message).toMatch(/initializer 'w' is declared twice/);
    const c = chain();
    const w = c.initializer('w', 'float32', [2]);
    c.graph.sparseInitializers.push({
      values: { name: w, dtype: 'float32', dims: [1], data: new Float32Array(1) },
      indices: { name: '', dtype: 'int64', dims: [1], data: new BigInt64Array(1) },
      dims: [2],
    });
    expect(errorOf(() => validateModel(makeModel(c.graph))).message).toMatch(/initializer 'w' is declared twice/);
    const d = chain();
    const v = d.initializer('bias', 'float32', [2]);
    d.graph.inputs.push({ name: v }); // IR 3 style: an initializer listed as an input
    expect(() => validateModel(makeModel(d.graph))).not.toThrow();
  });

  it('missing default-domain opset', () => {
    const m: Model = { ...makeModel(chain().graph), opsetImports: [{ domain: 'com.microsoft', version: 1 }] };
    const e = errorOf(() => validateModel(m));
    expect(e.message).toMatch(/imports no opset for the default ONNX domain, but node 'relu' \(Relu\)/);
  });

  it('a domain used by a node but not imported', () => {
    const b = chain();
    b.op('FusedGemm', ['r2'], {}, { name: 'fused', domain: 'com.microsoft' });
    const e = errorOf(() => validateModel(makeModel(b.graph)));
    expect(e.message).toMatch(/node 'fused' \(com.microsoft:FusedGemm\) uses domain 'com.microsoft'/);
    expect(() =>
      validateModel(makeModel(b.graph, { extraOpsets: [{ domain: 'com.microsoft', version: 1 }] })),
    ).not.toThrow();
  });

  it('graph outputs must be produced', () => {
    const b = chain();
    b.output('nowhere');
    expect(errorOf(() => validateModel(makeModel(b.graph))).message).toMatch(/graph output 'nowhere' is not produced/);
  });

  it('subgraphs see outer-scope names, and errors inside them name the enclosing node', () => {
    const branch = (reads: string): Graph => {
      const g = new GraphBuilder(emptyGraph('then'));
      g.op('Identity', [reads], {}, { name: 'id', output: `out_${reads}` });
      g.output(`out_${reads}`);
      return g.graph;
    };
    const b = chain();
    b.input('cond', 'bool', []);
    b.node('If', ['cond'], { then_branch: branch('r1'), else_branch: branch('r2') }, { name: 'if', outputs: ['z'] });
    b.output('z');
    expect(() => validateModel(makeModel(b.graph))).not.toThrow();
    (b.graph.nodes[2]!.attributes['else_branch']!.value as Graph).nodes[0]!.inputs = ['undefined_outer'];
    const e = errorOf(() => validateModel(makeModel(b.graph)));
    expect(e.message).toMatch(
      /in a subgraph of node 'if' \(If\): graph 'then': node 'id' \(Identity\) reads 'undefined_outer'/,
    );
    // an outer scope passed explicitly
    expect(() => validateGraph(branch('from_outside'), ['from_outside'])).not.toThrow();
    expect(() => validateGraph(branch('from_outside'))).toThrow(/reads 'from_outside'/);
  });

  it('a cycle is reported with a node on it', () => {
    const b = chain();
    b.graph.nodes[0]!.inputs = ['r2']; // relu reads neg's output, neg reads relu's
    const e = errorOf(() => validateModel(makeModel(b.graph)));
    expect(e.code).toBe('E_GRAPH_INVALID');
    expect(e.message).toMatch(/cycle: node '(relu|neg)'/);
  });
});

describe('toposort', () => {
  it('keeps an already sorted graph unchanged', () => {
    const g = loadModel(fixturePath('gru_classifier')).graph;
    expect(toposort(g)).toEqual(g.nodes);
  });

  it('sorts a shuffled graph so every node follows its producers, stably', () => {
    const g = loadModel(fixturePath('gru_classifier')).graph;
    const shuffled: Graph = { ...g, nodes: [...g.nodes].reverse() };
    const sorted = toposort(shuffled);
    const seen = new Set([...g.inputs.map((v) => v.name), ...g.initializers.map((t) => t.name)]);
    for (const n of sorted) {
      for (const i of n.inputs) if (i) expect(seen.has(i), `${n.opType} reads ${i} before it is produced`).toBe(true);
      n.outputs.forEach((o) => seen.add(o));
    }
    expect(sorted).toHaveLength(g.nodes.length);
    expect(sortGraph(shuffled).nodes).toEqual(sorted);
    expect(shuffled.nodes[0]).toBe(g.nodes[g.nodes.length - 1]); // input not mutated
  });

  it('orders a node after producers of values its subgraph reads from the outer scope', () => {
    const body = new GraphBuilder(emptyGraph('then'));
    body.op('Identity', ['late'], {}, { output: 'o' });
    body.output('o');
    const b = new GraphBuilder();
    b.input('c', 'bool', []);
    b.input('x', 'float32', [1]);
    b.node('If', ['c'], { then_branch: body.graph, else_branch: body.graph }, { name: 'if', outputs: ['y'] });
    b.op('Relu', ['x'], {}, { name: 'producer', output: 'late' });
    expect(toposort(b.graph).map((n) => n.name)).toEqual(['producer', 'if']);
  });
});
