/**
 * Shape and type inference over a model: walks each graph in topological order and asks the
 * rule of every node's op (registry.ts) for its output types, propagating the values of small
 * integer tensors (shapes, axes) so that Reshape/Expand/Slice targets computed in the graph are
 * resolved. Symbolic dims ('batch') are kept. Unknown ops, and any rule that cannot decide, give
 * undefined for their outputs; inference never throws.
 */
import {
  defaultOpset,
  type Dim,
  isDefaultDomain,
  numel,
  type Graph,
  type Model,
  type Node,
  type Tensor,
  type TensorType,
} from '../ir.ts';
import { toposort } from '../toposort.ts';
import { ruleFor } from './registry.ts';
import type { ShapeContext, SymbolicValue } from './rule.ts';

export interface InferOptions {
  /**
   * Use the types the model declares (value_info, graph outputs) where inference cannot decide,
   * and to fill unknown dims of inferred ones. Default true; false infers from inputs and
   * initializers alone (how the conformance test checks the rules).
   */
  trustDeclared?: boolean;
  /**
   * Shapes for main-graph inputs in place of the declared ones (dtype stays the declared one):
   * e.g. concrete sizes for symbolic dims, or distinct symbols for unknown ones.
   */
  inputShapes?: ReadonlyMap<string, readonly Dim[]>;
}

/** Largest integer tensor whose values are tracked (shapes and axes are tiny). */
const MAX_TRACKED_VALUES = 64;

interface Scope {
  types: Map<string, TensorType>;
  constants: Map<string, Tensor>;
  values: Map<string, SymbolicValue>;
  parent?: Scope;
}

function lookup<K extends keyof Omit<Scope, 'parent'>>(scope: Scope | undefined, key: K, name: string) {
  for (let s = scope; s; s = s.parent) {
    const v = s[key].get(name);
    if (v !== undefined) return v as NonNullable<ReturnType<Scope[K]['get']>>;
  }
  return undefined;
}

function tensorValue(t: Tensor): SymbolicValue | undefined {
  if (t.dtype !== 'int64' && t.dtype !== 'int32') return undefined;
  if (t.dims.length > 1 || t.storage === 'external') return undefined;
  const n = numel(t.dims);
  if (n > MAX_TRACKED_VALUES || t.data.length !== n) return undefined;
  return { values: Array.from(t.data as ArrayLike<number | bigint>, Number), scalar: t.dims.length === 0 };
}

function constantOf(node: Node): Tensor | undefined {
  const a = node.attributes['value'];
  if (a?.type === 'tensor') return a.value;
  const name = node.outputs[0] ?? '';
  const mk = (dtype: Tensor['dtype'], dims: number[], data: Tensor['data']): Tensor => ({ name, dtype, dims, data });
  const i = node.attributes['value_int'];
  if (i?.type === 'int') return mk('int64', [], BigInt64Array.of(BigInt(i.value)));
  const is = node.attributes['value_ints'];
  if (is?.type === 'ints') return mk('int64', [is.value.length], BigInt64Array.from(is.value, BigInt));
  const f = node.attributes['value_float'];
  if (f?.type === 'float') return mk('float32', [], Float32Array.of(f.value));
  const fs = node.attributes['value_floats'];
  if (fs?.type === 'floats') return mk('float32', [fs.value.length], Float32Array.from(fs.value));
  return undefined;
}

/** Declared types with better-known dims fill the gaps of inferred ones (same rank only). */
function refine(inferred: TensorType | undefined, declared: TensorType | undefined): TensorType | undefined {
  if (!inferred) return declared;
  if (!declared || !declared.shape) return inferred;
  if (!inferred.shape) return { ...inferred, shape: declared.shape };
  if (inferred.shape.length !== declared.shape.length) return inferred;
  const shape = inferred.shape.map((d, i) => (d === null ? declared.shape![i]! : d));
  return { ...inferred, shape };
}

function declaredTypes(graph: Graph): Map<string, TensorType> {
  const m = new Map<string, TensorType>();
  for (const v of [...graph.valueInfo, ...graph.outputs]) if (v.type?.kind === 'tensor') m.set(v.name, v.type);
  return m;
}

class GraphInference {
  constructor(
    private readonly opset: number,
    private readonly opts: { trustDeclared: boolean },
  ) {}

  /** Infer a graph; `inputTypes` override the declared input types (subgraphs). Returns its scope. */
  run(graph: Graph, parent?: Scope, inputTypes?: (TensorType | undefined)[]): Scope {
    const scope: Scope = { types: new Map(), constants: new Map(), values: new Map(), parent };
    graph.inputs.forEach((v, i) => {
      const declared = v.type?.kind === 'tensor' ? v.type : undefined;
      const given = inputTypes?.[i];
      const t = given ? refine(given, declared) : declared;
      if (t) scope.types.set(v.name, t);
    });
    for (const t of graph.initializers) {
      scope.types.set(t.name, { kind: 'tensor', dtype: t.dtype, shape: [...t.dims] });
      scope.constants.set(t.name, t);
      const v = tensorValue(t);
      if (v) scope.values.set(t.name, v);
    }
    for (const s of graph.sparseInitializers) {
      scope.types.set(s.values.name, { kind: 'tensor', dtype: s.values.dtype, shape: [...s.dims] });
    }
    const declared = this.opts.trustDeclared ? declaredTypes(graph) : new Map<string, TensorType>();
    let order: Node[];
    try {
      order = toposort(graph);
    } catch {
      order = graph.nodes; // a cycle: infer what can be inferred in file order
    }
    for (const node of order) this.node(node, scope, declared);
    return scope;
  }

  private node(node: Node, scope: Scope, declared: Map<string, TensorType>): void {
    const rule = ruleFor(isDefaultDomain(node.domain) ? '' : node.domain, node.opType);
    const ctx = this.context(node, scope);
    let results: (TensorType | undefined)[] = [];
    if (rule) {
      try {
        const r = rule.infer(ctx);
        results = Array.isArray(r) ? r : [r];
      } catch {
        results = []; // a rule that cannot cope with this node: outputs unknown
      }
    }
    node.outputs.forEach((name, i) => {
      if (!name) return;
      const t = refine(results[i], declared.get(name));
      if (t) scope.types.set(name, t);
      if (rule?.value) {
        try {
          const v = rule.value(ctx, i);
          if (v) scope.values.set(name, v);
        } catch {
          /* value unknown */
        }
      }
    });
    if (node.opType === 'Constant' && isDefaultDomain(node.domain) && node.outputs[0]) {
      const c = constantOf(node);
      if (c) {
        scope.constants.set(node.outputs[0], c);
        const v = tensorValue(c);
        if (v) scope.values.set(node.outputs[0], v);
      }
    }
  }

  private context(node: Node, scope: Scope): ShapeContext {
    const name = (i: number) => node.inputs[i] ?? '';
    const ctx: ShapeContext = {
      node,
      opset: this.opset,
      input: (i) => (name(i) ? lookup(scope, 'types', name(i)) : undefined),
      has: (i) => name(i) !== '',
      shape: (i) => ctx.input(i)?.shape,
      dtype: (i) => ctx.input(i)?.dtype,
      constant: (i) => (name(i) ? lookup(scope, 'constants', name(i)) : undefined),
      value: (i) => (name(i) ? lookup(scope, 'values', name(i)) : undefined),
      numbers: (i) => {
        const v = ctx.value(i);
        return v && v.values.every((d) => typeof d === 'number') ? (v.values as number[]) : undefined;
      },
      attr: (n) => node.attributes[n],
      int: ((n: string, fallback?: number) => {
        const a = node.attributes[n];
        return a?.type === 'int' ? a.value : fallback;
      }) as ShapeContext['int'],
      ints: (n) => {
        const a = node.attributes[n];
        return a?.type === 'ints' ? a.value : undefined;
      },
      float: (n) => {
        const a = node.attributes[n];
        return a?.type === 'float' ? a.value : undefined;
      },
      string: ((n: string, fallback?: string) => {
        const a = node.attributes[n];
        return a?.type === 'string' ? a.value : fallback;
      }) as ShapeContext['string'],
      subgraph: (g, inputTypes) => {
        const inner = this.run(g, scope, inputTypes);
        const own = this.opts.trustDeclared ? declaredTypes(g) : new Map<string, TensorType>();
        return g.outputs.map((o) => refine(lookup(inner, 'types', o.name), own.get(o.name)));
      },
    };
    return ctx;
  }
}

/**
 * Types of every value of the main graph that can be inferred: graph inputs, initializers and
 * node outputs (value name -> {dtype, shape}, shape undefined when the rank is unknown, dims a
 * number, a symbol such as 'batch', or null when unknown).
 */
export function inferShapes(model: Model, opts: InferOptions = {}): Map<string, TensorType> {
  return inferShapesAndValues(model, opts).types;
}

/**
 * inferShapes and the values of the main graph's small integer tensors (shapes, axes, sizes)
 * that inference tracked, symbolic entries included: Shape(x) of x: ['batch', 3] has values
 * ['batch', 3], so a computed Reshape target can be matched with the dims of its data.
 */
export function inferShapesAndValues(
  model: Model,
  opts: InferOptions = {},
): { types: Map<string, TensorType>; values: Map<string, SymbolicValue> } {
  const opset = defaultOpset(model) ?? 1;
  const engine = new GraphInference(opset, { trustDeclared: opts.trustDeclared ?? true });
  const given = opts.inputShapes;
  const inputTypes = given
    ? model.graph.inputs.map((v): TensorType | undefined => {
        const shape = given.get(v.name);
        return shape && v.type?.kind === 'tensor' ? { ...v.type, shape: [...shape] } : undefined;
      })
    : undefined;
  const scope = engine.run(model.graph, undefined, inputTypes);
  return { types: scope.types, values: scope.values };
}

/**
 * Values of the main graph's small integer tensors that inference resolved to numbers (shapes,
 * slice bounds, split sizes computed from static dims), by value name. Entries that depend on a
 * symbolic dim ('batch') are left out, so each one holds for every input size.
 */
export function inferValues(model: Model, opts: InferOptions = {}): Map<string, { values: number[]; scalar: boolean }> {
  const out = new Map<string, { values: number[]; scalar: boolean }>();
  for (const [name, v] of inferShapesAndValues(model, opts).values) {
    if (v.values.every((d): d is number => typeof d === 'number'))
      out.set(name, { values: v.values, scalar: v.scalar });
  }
  return out;
}

/**
 * The model with graph.valueInfo filled with the inferred type of every intermediate value
 * (entries already present are kept). Pure: returns a new Model sharing the unchanged parts
 * (initializers, nodes) with the input.
 */
export function withValueInfo(model: Model, opts: InferOptions = {}): Model {
  const types = inferShapes(model, opts);
  const g = model.graph;
  const skip = new Set<string>([
    ...g.inputs.map((v) => v.name),
    ...g.outputs.map((v) => v.name),
    ...g.initializers.map((t) => t.name),
    ...g.valueInfo.map((v) => v.name),
  ]);
  const added = [];
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      const t = types.get(o);
      if (!o || skip.has(o) || !t) continue;
      skip.add(o);
      added.push({ name: o, type: { ...t, shape: t.shape ? [...t.shape] : undefined } });
    }
  }
  for (const a of added) if (a.type.shape === undefined) delete a.type.shape;
  return { ...model, graph: { ...g, valueInfo: [...g.valueInfo, ...added] } };
}
