/**
 * Networks: the functional form (`input()` -> `layer.apply(...)` -> `new Network({ inputs, outputs })`)
 * for multi-input and residual graphs, and `Sequential` for stacks. `build({ seed })` emits an
 * ONNX model with a symbolic 'batch' leading dimension on every input and output; a single input
 * is named 'input' and a single output 'logits'.
 */
import { rng } from '../data/browser.ts';
import { VergeError } from '../errors.ts';
import { GraphBuilder, makeModel, type DType, type Model } from '../onnx/browser.ts';
import { Layer, SymbolicTensor, shapeStr, type BuildContext, type Shape } from './layer.ts';

export const DEFAULT_INPUT_NAME = 'input';
export const DEFAULT_OUTPUT_NAME = 'logits';
export const BATCH_DIM = 'batch';
/** Default seed of build() when none is given. */
export const DEFAULT_SEED = 0;

export interface InputOptions {
  name?: string;
  dtype?: DType;
}

/** A network input: per-sample shape (the batch dimension is added by build()). */
export function input(shape: Shape, opts: InputOptions = {}): SymbolicTensor {
  if (!shape.every((d) => Number.isInteger(d) && d > 0))
    throw new VergeError('E_BAD_ARGUMENT', `input shape ${shapeStr(shape)} must hold positive integers`);
  return new SymbolicTensor([...shape], opts.dtype ?? 'float32', {
    kind: 'input',
    name: opts.name ?? DEFAULT_INPUT_NAME,
  });
}

export interface BuildOptions {
  seed?: number;
  /** Emit training behaviour for BatchNorm/Dropout (see layers/normalization.ts). Default false. */
  training?: boolean;
  /** Graph name. */
  name?: string;
}

export interface SummaryRow {
  name: string;
  kind: string;
  outputShape: Shape;
  params: number;
}

interface LayerCall {
  layer: Layer;
  inputs: SymbolicTensor[];
  output: SymbolicTensor;
}

export class Network {
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
  readonly outputNames: string[];
  private readonly calls: LayerCall[];
  private readonly layerNames = new Map<Layer, string>();

  constructor(opts: {
    inputs: SymbolicTensor | SymbolicTensor[];
    outputs: SymbolicTensor | SymbolicTensor[];
    outputNames?: string[];
  }) {
    this.inputs = Array.isArray(opts.inputs) ? opts.inputs : [opts.inputs];
    this.outputs = Array.isArray(opts.outputs) ? opts.outputs : [opts.outputs];
    if (this.outputs.length === 0) throw new VergeError('E_BAD_ARGUMENT', 'a network needs at least one output');
    this.outputNames =
      opts.outputNames ??
      (this.outputs.length === 1 ? [DEFAULT_OUTPUT_NAME] : this.outputs.map((_, i) => `${DEFAULT_OUTPUT_NAME}_${i}`));
    if (this.outputNames.length !== this.outputs.length)
      throw new VergeError('E_BAD_ARGUMENT', 'one output name per output');
    const inputNames = this.inputs.map((i) => (i.source.kind === 'input' ? i.source.name : ''));
    if (inputNames.some((n) => n === ''))
      throw new VergeError('E_BAD_ARGUMENT', 'network inputs must come from input()');
    if (new Set(inputNames).size !== inputNames.length)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `network inputs need distinct names (got ${inputNames.join(', ')}); use input(shape, { name })`,
      );
    this.calls = this.topoOrder();
    this.nameLayers();
  }

  /** Layer calls in dependency order (depth-first from the outputs). */
  private topoOrder(): LayerCall[] {
    const order: LayerCall[] = [];
    const done = new Set<SymbolicTensor>();
    const declared = new Set(this.inputs);
    const visit = (t: SymbolicTensor): void => {
      if (done.has(t)) return;
      done.add(t);
      if (t.source.kind === 'input') {
        if (!declared.has(t))
          throw new VergeError(
            'E_BAD_ARGUMENT',
            `the network uses input '${t.source.name}' that is not among its inputs`,
          );
        return;
      }
      for (const i of t.source.inputs) visit(i);
      order.push({ layer: t.source.layer, inputs: t.source.inputs, output: t });
    };
    for (const o of this.outputs) visit(o);
    return order;
  }

  private nameLayers(): void {
    const counts = new Map<string, number>();
    const taken = new Set<string>();
    for (const { layer } of this.calls) if (layer.explicitName) taken.add(layer.explicitName);
    for (const { layer } of this.calls) {
      if (this.layerNames.has(layer)) continue;
      if (layer.explicitName) {
        this.layerNames.set(layer, layer.explicitName);
        continue;
      }
      let name: string;
      do {
        const n = (counts.get(layer.kind) ?? 0) + 1;
        counts.set(layer.kind, n);
        name = `${layer.kind}_${n}`;
      } while (taken.has(name));
      taken.add(name);
      this.layerNames.set(layer, name);
    }
  }

  /** Layers in call order with their output shapes and parameter counts. */
  layers(): SummaryRow[] {
    const seen = new Set<Layer>();
    return this.calls.map(({ layer, inputs, output }) => {
      const shared = seen.has(layer);
      seen.add(layer);
      return {
        name: this.layerNames.get(layer)!,
        kind: layer.kind,
        outputShape: output.shape,
        params: shared ? 0 : layer.paramCount(inputs.map((i) => i.shape)),
      };
    });
  }

  /** Total number of parameter values (weights, biases, normalization statistics). */
  paramCount(): number {
    return this.layers().reduce((a, r) => a + r.params, 0);
  }

  /** A table: layer, type, output shape (with the batch dimension), parameters; then the total. */
  summary(): string {
    const rows = this.layers().map((r) => [
      r.name,
      r.kind,
      `[batch, ${r.outputShape.join(', ')}]`,
      r.params.toLocaleString('en-US'),
    ]);
    const inputs = this.inputs.map((i) => [
      (i.source as { name: string }).name,
      'input',
      `[batch, ${i.shape.join(', ')}]`,
      '0',
    ]);
    const cells = [['layer', 'type', 'output shape', 'params'], ...inputs, ...rows];
    const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
    const fmt = (r: string[]) =>
      r
        .map((v, c) => (c === 3 ? v.padStart(widths[c]!) : v.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd();
    const rule = widths.map((w) => '-'.repeat(w)).join('  ');
    const lines = [
      fmt(cells[0]!),
      rule,
      ...cells.slice(1).map(fmt),
      rule,
      `total parameters: ${this.paramCount().toLocaleString('en-US')}`,
    ];
    return lines.join('\n');
  }

  /** Emit the ONNX model. Same seed, same weights. */
  build(opts: BuildOptions = {}): Model {
    const g = new GraphBuilder();
    g.graph.name = opts.name ?? 'verge_nn';
    const ctx: BuildContext = {
      g,
      rand: rng(opts.seed ?? DEFAULT_SEED),
      training: opts.training ?? false,
      params: new Map(),
    };
    const values = new Map<SymbolicTensor, string>();
    for (const i of this.inputs) {
      values.set(i, g.input((i.source as { name: string }).name, i.dtype, [BATCH_DIM, ...i.shape]));
    }
    for (const name of this.outputNames) g.reserve(name);
    for (const call of this.calls) {
      const ins = call.inputs.map((t) => values.get(t)!);
      const scope = this.layerNames.get(call.layer)!;
      const first = g.graph.nodes.length;
      const shapes = call.inputs.map((t) => t.shape);
      const out = call.layer.emit(ctx, scope, ins, shapes);
      // Node and value names say which layer they belong to (profiles, error messages), e.g.
      // 'conv2d_1/Conv' computing 'conv2d_1/conv'; later passes can add their own names freely.
      const renamed = new Map<string, string>();
      for (const n of g.graph.nodes.slice(first)) {
        n.inputs = n.inputs.map((i) => renamed.get(i) ?? i);
        n.outputs = n.outputs.map((o) => {
          if (!o) return o;
          const r = g.uniqueName(`${scope}/${o}`);
          renamed.set(o, r);
          return r;
        });
        n.name = g.uniqueName(`${scope}/${n.opType}`);
      }
      values.set(call.output, renamed.get(out) ?? out);
    }
    this.outputs.forEach((o, k) => {
      const name = this.outputNames[k]!;
      let v = values.get(o)!;
      // An output that is an input or another output needs its own node to carry the name.
      g.graph.nodes.push({
        name: g.uniqueName(`${name}_output`),
        opType: 'Identity',
        domain: '',
        inputs: [v],
        outputs: [name],
        attributes: {},
      });
      v = name;
      g.output(v, o.dtype, [BATCH_DIM, ...o.shape]);
    });
    renameLastProducers(g);
    return makeModel(g.graph);
  }
}

/**
 * Fold the output Identity nodes into their producers when the producer's value is used nowhere
 * else, so outputs come straight from the last real op (cleaner graphs, nothing for runtimes to skip).
 */
function renameLastProducers(g: GraphBuilder): void {
  const graph = g.graph;
  const outputNames = new Set(graph.outputs.map((o) => o.name));
  const inputNames = new Set(graph.inputs.map((i) => i.name));
  const uses = new Map<string, number>();
  for (const n of graph.nodes) for (const i of n.inputs) uses.set(i, (uses.get(i) ?? 0) + 1);
  const keep = graph.nodes.filter((n) => {
    if (n.opType !== 'Identity' || !outputNames.has(n.outputs[0]!)) return true;
    const src = n.inputs[0]!;
    if (inputNames.has(src) || outputNames.has(src) || (uses.get(src) ?? 0) !== 1) return true;
    const producer = graph.nodes.find((p) => p.outputs.includes(src));
    if (!producer || graph.initializers.some((t) => t.name === src)) return true;
    producer.outputs = producer.outputs.map((o) => (o === src ? n.outputs[0]! : o));
    return false;
  });
  graph.nodes = keep;
}

/** A stack of layers, each applied to the previous one's output. */
export class Sequential {
  private readonly stack: Layer[] = [];
  readonly inputShape: Shape;
  readonly inputDType: DType;

  constructor(inputShape: Shape, layers: (Layer | undefined)[] = [], opts: { dtype?: DType } = {}) {
    this.inputShape = [...inputShape];
    this.inputDType = opts.dtype ?? 'float32';
    for (const l of layers) if (l) this.add(l);
  }

  add(layer: Layer): this {
    this.stack.push(layer);
    this.network(); // validate shapes as layers are added
    return this;
  }

  network(): Network {
    const x = input(this.inputShape, { dtype: this.inputDType });
    let y = x;
    for (const l of this.stack) y = l.apply(y);
    return new Network({ inputs: x, outputs: y });
  }

  layers(): SummaryRow[] {
    return this.network().layers();
  }
  paramCount(): number {
    return this.network().paramCount();
  }
  summary(): string {
    return this.network().summary();
  }
  build(opts: BuildOptions = {}): Model {
    return this.network().build(opts);
  }
}
