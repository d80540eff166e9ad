/**
 * Sessions over onnxruntime: onnxruntime-node, or onnxruntime-web in a browser (the backend seam is
 * backend.ts; the "#ort" import picks one). The only place (with tensor.ts) that touches onnxruntime.
 * A Session is created from an IR model, model bytes or a file path; run() takes and returns
 * verge TensorValues.
 *
 * Inputs are validated against the model's declared graph inputs before onnxruntime sees them,
 * so a wrong shape or dtype gets a verge error naming the input. The checks are compiled once at
 * create() (no per-call decoding or allocation beyond the feeds object) to keep the overhead over
 * a bare onnxruntime session within DESIGN.md's 5%.
 */
import type * as ort from 'onnxruntime-common';
import { backend } from '#ort';
import type { WebRuntimeOptions } from './backend.ts';

export type { WebRuntimeOptions };
import { VergeError } from '../errors.ts';
import {
  decodeModel,
  encodeModel,
  numberToFloat16Bits,
  type DType,
  type Dim,
  type Model,
  type ValueInfo,
} from '../onnx/browser.ts';
import { describeValue, fromOrt, isOrtDType, tensor, toOrt, type TensorValue } from './tensor.ts';

import { EXECUTION_PROVIDERS, type ExecutionProvider } from './providers.ts';

export { EXECUTION_PROVIDERS, type ExecutionProvider };

export interface SessionOptions {
  /** Intra-op threads (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  /** Inter-op threads; only used when executionMode is 'parallel'. */
  interOpThreads?: number;
  /** 'parallel' runs independent branches of the graph concurrently (default 'sequential'). */
  executionMode?: 'sequential' | 'parallel';
  /** Default 'cpu'. 'cuda' / 'webgpu' fail with E_PROVIDER_UNAVAILABLE when absent. */
  executionProvider?: ExecutionProvider;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write onnxruntime's profile (chrome trace JSON) with this file prefix. */
  profilePrefix?: string;
  /** onnxruntime's native log level (0 verbose … 4 fatal). Default 4. */
  logSeverity?: 0 | 1 | 2 | 3 | 4;
  /** Save the graph onnxruntime actually executes (after its fusions), e.g. to show int8 kernels. */
  optimizedModelPath?: string;
  /** Check feeds against the declared inputs before running (default true). */
  validateInputs?: boolean;
}

/** A declared graph input or output. `dtype` undefined: not a tensor; `shape` undefined: rank unknown. */
export interface IOSpec {
  name: string;
  dtype?: DType;
  shape?: Dim[];
}

/** Execution providers this host offers (onnxruntime-node's build, or the browser's). */
export function availableProviders(): string[] {
  return backend.availableProviders();
}

/** Browser backend set-up: where onnxruntime-web's WASM files are served, WASM threads. Node ignores it. */
export function configureRuntime(opts: WebRuntimeOptions): void {
  backend.configure(opts);
}

/**
 * WebAssembly threads onnxruntime-web runs sessions with (configured, or its own choice), known
 * once the first session exists; undefined before that and on Node.
 */
export function webRuntimeThreads(): number | undefined {
  return backend.webThreads();
}

/** Which onnxruntime package runs sessions here: 'onnxruntime-node' or 'onnxruntime-web'. */
export const runtimeBackendName: string = backend.name;

/** The informative part of onnxruntime's provider failure (it prefixes source locations and lambdas). */
function providerFailure(message: string): string {
  const first = message.split('\n')[0]!;
  const failed = /(Failed to [^.]*)/.exec(first)?.[1];
  return (failed ?? first.replace(/^.*?:\d+ /, '')).slice(0, 200);
}

function providerUnavailable(ep: string, why: string): VergeError {
  return new VergeError(
    'E_PROVIDER_UNAVAILABLE',
    `execution provider '${ep}' is not available: ${why}; use --provider cpu`,
  );
}

function sessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const ep = opts.executionProvider ?? 'cpu';
  if (!EXECUTION_PROVIDERS.includes(ep)) {
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `unknown execution provider '${ep}' (choose ${EXECUTION_PROVIDERS.join(', ')})`,
    );
  }
  if (ep !== 'cpu') {
    const problem = backend.providerProblem(ep);
    if (problem) throw providerUnavailable(ep, problem);
  }
  for (const [k, v] of [
    ['threads', opts.threads],
    ['interOpThreads', opts.interOpThreads],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
      throw new VergeError('E_BAD_ARGUMENT', `${k} must be a non-negative integer, got ${v}`);
    }
  }
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: [backend.ortProvider(ep)],
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
    // Fatal only: onnxruntime's errors also arrive as exceptions, which verge turns into one line;
    // its native log would add unparseable lines to stderr.
    logSeverityLevel: opts.logSeverity ?? 4,
  };
  if (opts.threads) o.intraOpNumThreads = opts.threads;
  if (opts.interOpThreads) o.interOpNumThreads = opts.interOpThreads;
  if (opts.executionMode) o.executionMode = opts.executionMode;
  if (opts.optimizedModelPath) o.optimizedModelFilePath = opts.optimizedModelPath;
  if (opts.profilePrefix) {
    o.enableProfiling = true;
    o.profileFilePrefix = opts.profilePrefix;
  }
  return o;
}

/** Turn onnxruntime's multi-line errors into one actionable line. */
export function runtimeError(e: unknown, what: string): VergeError {
  const raw = e instanceof Error ? e.message : String(e);
  const line = raw.split('\n').find((l) => l.trim()) ?? raw;
  const clean = line.replace(/^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*[A-Z_]+\s*:\s*/, '').trim();
  if (
    /Could not find an implementation|not implemented|No op registered|Unrecognized attribute.*op_type/i.test(clean)
  ) {
    return new VergeError('E_UNKNOWN_OP', `${what}: ${clean}`);
  }
  if (/Got invalid dimensions|dimension|shape/i.test(clean))
    return new VergeError('E_SHAPE_MISMATCH', `${what}: ${clean}`);
  if (/Unexpected input data type|type|Actual:/i.test(clean) && /type/i.test(clean))
    return new VergeError('E_DTYPE_MISMATCH', `${what}: ${clean}`);
  return new VergeError('E_RUNTIME', `${what}: ${clean}`);
}

export function formatShape(shape: readonly Dim[] | undefined): string {
  if (!shape) return '[?]';
  return `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]`;
}

/** An input check compiled once per session: rank -1 = unknown; fixed[i] -1 = symbolic. */
interface InputCheck {
  name: string;
  dtype: DType | undefined;
  rank: number;
  fixed: number[];
  expected: string;
}

function compileCheck(spec: IOSpec): InputCheck {
  const fixed = (spec.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
  return {
    name: spec.name,
    dtype: spec.dtype,
    rank: spec.shape ? spec.shape.length : -1,
    fixed,
    expected: `${spec.dtype ?? 'any'} ${formatShape(spec.shape)}`,
  };
}

function specFromValueInfo(v: ValueInfo): IOSpec {
  if (v.type?.kind !== 'tensor') return { name: v.name };
  const s: IOSpec = { name: v.name, dtype: v.type.dtype };
  if (v.type.shape) s.shape = [...v.type.shape];
  return s;
}

function specFromOrt(m: ort.InferenceSession.ValueMetadata | undefined, name: string): IOSpec {
  if (!m || !m.isTensor || !isOrtDType(m.type)) return { name };
  // onnxruntime reports an unknown rank as [] too, so [] stays "unknown" here.
  const s: IOSpec = { name, dtype: m.type as DType };
  if (m.shape.length)
    s.shape = m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' && d ? d : null));
  return s;
}

/** Symbolic dims that stand for the batch: the first dim, or one whose name says so. */
const BATCH_DIM_NAME = /batch|^n$/i;

export interface SynthesizeOptions {
  /** Value for symbolic batch dims (the first dim, or one named like 'batch'). Default 1. */
  batch?: number;
  /** 'random' (default): uniform [0, 1) floats, 0/1 integers and booleans; 'zeros'. */
  fill?: 'random' | 'zeros';
  seed?: number;
  /** Explicit dims per input name, overriding the declared shape. */
  dims?: Record<string, number[]>;
}

/** Concrete dims for a declared input: symbolic batch dims → batch, other symbolic dims → 1. */
export function concreteDims(spec: IOSpec, batch = 1): number[] {
  if (!spec.shape) {
    throw new VergeError(
      'E_UNSUPPORTED',
      `input '${spec.name}' declares no shape, so verge cannot make up a value for it; pass one`,
    );
  }
  return spec.shape.map((d, i) => {
    if (typeof d === 'number' && d >= 0) return d;
    return i === 0 || (typeof d === 'string' && BATCH_DIM_NAME.test(d)) ? batch : 1;
  });
}

/**
 * The memory a session of `model` takes once loaded and run on batches of each size: the resident
 * bytes it adds after running at that batch (weights, their pre-packed copies, its thread pool,
 * the activation arena), measured in a process of its own — what a device must hold for the
 * model, which its file size does not say. Node only (a browser throws E_UNSUPPORTED).
 */
export async function measureLoadedMemory(
  model: Uint8Array,
  inputs: readonly IOSpec[],
  batches: readonly number[],
  opts: { threads?: number } = {},
): Promise<{ batch: number; bytes: number }[]> {
  const sorted = [...new Set(batches)].sort((a, b) => a - b);
  const runs = sorted.map((b) =>
    inputs.map((spec) => {
      if (!spec.dtype)
        throw new VergeError(
          'E_UNSUPPORTED',
          `input '${spec.name}' is not a tensor; verge cannot make up a value for it`,
        );
      return { name: spec.name, dtype: spec.dtype, dims: concreteDims(spec, b) };
    }),
  );
  const grown = await backend.loadedMemory(model, runs, opts.threads ?? 1);
  return sorted.map((batch, i) => ({ batch, bytes: grown[i]! }));
}

/**
 * The loaded memory of a model file for publishing it (protocol LoadedMemory): measureLoadedMemory
 * at each batch size, with inputs made up from the types the model declares. Node only.
 */
export async function measureModelMemory(
  model: Uint8Array,
  batches: readonly number[] = [1],
  opts: { threads?: number } = {},
): Promise<{ batch: number; bytes: number }[]> {
  const probe = await Session.create(model, { threads: 1 });
  const inputs = probe.inputs;
  await probe.release();
  return measureLoadedMemory(model, inputs, batches, opts);
}

/** Inputs made up from the declared input types (for warm-up, `verge run --random`, benchmarks). */
export function synthesizeInputs(specs: readonly IOSpec[], opts: SynthesizeOptions = {}): Record<string, TensorValue> {
  const next = rng(opts.seed ?? 0);
  const random = (opts.fill ?? 'random') === 'random';
  const feeds: Record<string, TensorValue> = {};
  for (const spec of specs) {
    if (!spec.dtype)
      throw new VergeError(
        'E_UNSUPPORTED',
        `input '${spec.name}' is not a tensor; verge cannot make up a value for it`,
      );
    const dims = opts.dims?.[spec.name] ?? concreteDims(spec, opts.batch ?? 1);
    const v = tensor(spec.dtype, dims);
    if (random) {
      const data = v.data;
      if (spec.dtype === 'string') {
        // leave empty strings
      } else if (spec.dtype === 'float16') {
        const d = data as Uint16Array;
        for (let i = 0; i < d.length; i++) d[i] = numberToFloat16Bits(next());
      } else if (spec.dtype === 'float32' || spec.dtype === 'float64') {
        const d = data as Float32Array;
        for (let i = 0; i < d.length; i++) d[i] = next();
      } else if (spec.dtype === 'int64' || spec.dtype === 'uint64') {
        const d = data as BigInt64Array;
        for (let i = 0; i < d.length; i++) d[i] = next() < 0.5 ? 0n : 1n;
      } else if (spec.dtype === 'int4' || spec.dtype === 'uint4') {
        const d = data as Uint8Array;
        for (let i = 0; i < d.length; i++) d[i] = next() < 0.5 ? 0x00 : 0x11;
      } else {
        // small non-negative integers keep index-like inputs (Gather, Embedding) in range
        const d = data as Uint8Array;
        for (let i = 0; i < d.length; i++) d[i] = next() < 0.5 ? 0 : 1;
      }
    }
    feeds[spec.name] = v;
  }
  return feeds;
}

/**
 * mulberry32, seeded: synthesized inputs are reproducible. (data/ has the same generator, but
 * runtime/ sits below data/ and cannot import it.)
 */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Session {
  /** Declared graph inputs (initializer-backed inputs of old models excluded, as onnxruntime does). */
  readonly inputs: readonly IOSpec[];
  readonly outputs: readonly IOSpec[];
  readonly executionProvider: ExecutionProvider;
  private readonly checks: readonly InputCheck[] | undefined;

  private constructor(
    private readonly inner: ort.InferenceSession,
    readonly source: string,
    inputs: IOSpec[],
    outputs: IOSpec[],
    opts: SessionOptions,
  ) {
    this.inputs = inputs;
    this.outputs = outputs;
    this.executionProvider = opts.executionProvider ?? 'cpu';
    this.checks = opts.validateInputs === false ? undefined : inputs.map(compileCheck);
  }

  static async create(model: Model | Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    const ortOptions = sessionOptions(opts);
    let ir: Model;
    let source: string;
    let ortModel: Uint8Array | string;
    if (typeof model === 'string') {
      const file = backend.readModelFile(model);
      const bytes = file.bytes;
      source = file.name;
      // Decoding first classifies truncated and non-ONNX files (E_MODEL_TRUNCATED, E_NOT_ONNX)
      // better than onnxruntime does, and gives the declared inputs for validation.
      ir = decodeModel(bytes, source);
      // onnxruntime resolves external data files relative to the model path, so give it the path then.
      const external = ir.graph.initializers.some((t) => t.storage === 'external');
      ortModel = external ? model : bytes;
    } else if (model instanceof Uint8Array) {
      source = 'model';
      ir = decodeModel(model, source);
      ortModel = model;
    } else {
      ir = model;
      source = model.graph.name || 'model';
      ortModel = encodeModel(model);
    }
    let inner: ort.InferenceSession;
    try {
      inner = await backend.ort.InferenceSession.create(ortModel as Uint8Array, ortOptions);
    } catch (e) {
      const ep = opts.executionProvider ?? 'cpu';
      if (ep !== 'cpu' && backend.providerFailurePattern.test(String((e as Error)?.message ?? e))) {
        throw providerUnavailable(ep, providerFailure(String((e as Error).message)));
      }
      throw runtimeError(e, `onnxruntime cannot load ${source}`);
    }
    const byName = new Map(ir.graph.inputs.map((v) => [v.name, v]));
    const outByName = new Map(ir.graph.outputs.map((v) => [v.name, v]));
    const inputs = inner.inputNames.map((name, i) => {
      const v = byName.get(name);
      return v?.type ? specFromValueInfo(v) : specFromOrt(inner.inputMetadata?.[i], name);
    });
    const outputs = inner.outputNames.map((name, i) => {
      const v = outByName.get(name);
      return v?.type ? specFromValueInfo(v) : specFromOrt(inner.outputMetadata?.[i], name);
    });
    return new Session(inner, source, inputs, outputs, opts);
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  /** Run the model; `fetches` limits which outputs are computed (default: all). */
  async run(feeds: Record<string, TensorValue>, fetches?: readonly string[]): Promise<Record<string, TensorValue>> {
    const ortFeeds = this.toOrtFeeds(feeds);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = fetches ? await this.inner.run(ortFeeds, fetches as string[]) : await this.inner.run(ortFeeds);
    } catch (e) {
      throw runtimeError(e, `${this.source} failed to run`);
    }
    const res: Record<string, TensorValue> = {};
    for (const k in out) res[k] = fromOrt(out[k] as ort.Tensor);
    return res;
  }

  /**
   * Run the model writing into preallocated output tensors (onnxruntime's output binding): a
   * steady-state inference loop then allocates no output buffers. Computes only the outputs given;
   * each must have the exact dims the model produces. Returns `outputs`, filled.
   */
  async runInto(
    feeds: Record<string, TensorValue>,
    outputs: Record<string, TensorValue>,
  ): Promise<Record<string, TensorValue>> {
    const ortFeeds = this.toOrtFeeds(feeds);
    const fetches: Record<string, ort.Tensor> = {};
    for (const k in outputs) {
      if (!this.inner.outputNames.includes(k)) {
        throw new VergeError(
          'E_BAD_ARGUMENT',
          `${this.source} has no output '${k}' (outputs: ${this.outputNames.join(', ')})`,
        );
      }
      fetches[k] = toOrt(outputs[k]!, `${this.source}: output '${k}'`);
    }
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.inner.run(ortFeeds, fetches);
    } catch (e) {
      throw runtimeError(e, `${this.source} failed to run`);
    }
    for (const k in outputs) {
      const got = out[k] as ort.Tensor | undefined;
      const want = outputs[k]!;
      // onnxruntime fills the bound buffer; copy only if it ever hands back a different one.
      if (got && got.data !== want.data && (got.data as Float32Array).buffer !== (want.data as Float32Array).buffer) {
        (want.data as Float32Array).set(got.data as Float32Array);
      }
    }
    return outputs;
  }

  /** Validate feeds against the compiled checks and wrap them as onnxruntime tensors (no copies). */
  private toOrtFeeds(feeds: Record<string, TensorValue>): Record<string, ort.Tensor> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    const checks = this.checks;
    if (checks) {
      for (let c = 0; c < checks.length; c++) {
        const check = checks[c]!;
        const v = feeds[check.name];
        if (v === undefined) throw this.missing(check, feeds);
        if (check.dtype !== undefined && v.dtype !== check.dtype) {
          throw new VergeError(
            'E_DTYPE_MISMATCH',
            `${this.source}: input '${check.name}' expects ${check.expected}, got ${describeValue(v)}`,
          );
        }
        if (check.rank >= 0) {
          const dims = v.dims;
          let ok = dims.length === check.rank;
          for (let i = 0; ok && i < check.rank; i++) ok = check.fixed[i]! < 0 || dims[i] === check.fixed[i];
          if (!ok) {
            throw new VergeError(
              'E_SHAPE_MISMATCH',
              `${this.source}: input '${check.name}' expects shape ${formatShape(this.inputs[c]!.shape)}, got [${dims.join(', ')}]`,
            );
          }
        }
        ortFeeds[check.name] = toOrt(v, `${this.source}: input '${check.name}'`);
      }
    }
    for (const k in feeds) if (!(k in ortFeeds)) ortFeeds[k] = toOrt(feeds[k]!, `${this.source}: input '${k}'`);
    return ortFeeds;
  }

  private missing(check: InputCheck, feeds: Record<string, TensorValue>): VergeError {
    const given = Object.keys(feeds);
    return new VergeError(
      'E_INPUT_MISSING',
      `${this.source} needs input '${check.name}' (${check.expected}); given: ${given.length ? given.map((g) => `'${g}'`).join(', ') : 'none'}`,
    );
  }

  /** Inputs made up from this model's declared inputs (symbolic batch dims → `batch`). */
  synthesizeInputs(opts: SynthesizeOptions = {}): Record<string, TensorValue> {
    return synthesizeInputs(this.inputs, opts);
  }

  /**
   * Run `runs` times on synthesized inputs so onnxruntime allocates its arenas and picks kernels
   * before timed or latency-sensitive calls. Returns each run's wall time in ms.
   */
  async warmup(runs = 1, opts: SynthesizeOptions = {}): Promise<number[]> {
    const feeds = this.synthesizeInputs(opts);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await this.run(feeds);
      times.push(performance.now() - t0);
    }
    return times;
  }

  /** Stop profiling and return the profile file path (when profilePrefix was set). */
  endProfiling(): void {
    this.inner.endProfiling();
  }

  async release(): Promise<void> {
    await this.inner.release();
  }
}
