/**
 * Sessions over onnxruntime-node. The only place (with tensor.ts) that touches onnxruntime.
 * A Session is created from an IR model, model bytes or a file path; run() takes and returns
 * verge TensorValues.
 */
import ort from 'onnxruntime-node';
import { VergeError } from '../errors.ts';
import { encodeModel } from '../onnx/codec.ts';
import type { Model } from '../onnx/ir.ts';
import { readBytes } from '../onnx/io.ts';
import { fromOrt, toOrt, type TensorValue } from './tensor.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export interface SessionOptions {
  /** Intra-op threads (default: onnxruntime's choice, one per physical core). */
  threads?: number;
  interOpThreads?: number;
  executionProvider?: ExecutionProvider;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Write onnxruntime's profile (chrome trace JSON) with this file prefix. */
  profilePrefix?: string;
  logSeverity?: 0 | 1 | 2 | 3 | 4;
  /** Save the graph onnxruntime actually executes (after its fusions), e.g. to show int8 kernels. */
  optimizedModelPath?: string;
}

export function availableProviders(): string[] {
  try {
    return ort.listSupportedBackends().map((b) => b.name);
  } catch {
    return ['cpu'];
  }
}

function sessionOptions(opts: SessionOptions): ort.InferenceSession.SessionOptions {
  const ep = opts.executionProvider ?? 'cpu';
  if (ep !== 'cpu' && !availableProviders().includes(ep)) {
    throw new VergeError(
      'E_PROVIDER_UNAVAILABLE',
      `execution provider '${ep}' is not available in this onnxruntime build (available: ${availableProviders().join(', ')})`,
    );
  }
  const o: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: opts.graphOptimization ?? 'all',
    logSeverityLevel: opts.logSeverity ?? 3,
  };
  if (opts.threads) o.intraOpNumThreads = opts.threads;
  if (opts.interOpThreads) o.interOpNumThreads = opts.interOpThreads;
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
  if (/Could not find an implementation|not implemented|No op registered|Unrecognized attribute.*op_type/i.test(clean)) {
    return new VergeError('E_UNKNOWN_OP', `${what}: ${clean}`);
  }
  if (/Got invalid dimensions|dimension|shape/i.test(clean)) return new VergeError('E_SHAPE_MISMATCH', `${what}: ${clean}`);
  if (/Unexpected input data type|type|Actual:/i.test(clean) && /type/i.test(clean))
    return new VergeError('E_DTYPE_MISMATCH', `${what}: ${clean}`);
  return new VergeError('E_RUNTIME', `${what}: ${clean}`);
}

export class Session {
  private constructor(
    private readonly inner: ort.InferenceSession,
    readonly source: string,
  ) {}

  static async create(model: Model | Uint8Array | string, opts: SessionOptions = {}): Promise<Session> {
    let bytes: Uint8Array;
    let source: string;
    if (typeof model === 'string') {
      bytes = readBytes(model);
      source = model;
    } else if (model instanceof Uint8Array) {
      bytes = model;
      source = 'model';
    } else {
      bytes = encodeModel(model);
      source = model.graph.name || 'model';
    }
    try {
      const inner = await ort.InferenceSession.create(bytes, sessionOptions(opts));
      return new Session(inner, source);
    } catch (e) {
      if (e instanceof VergeError) throw e;
      throw runtimeError(e, `onnxruntime cannot load ${source}`);
    }
  }

  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  /** Run the model; `fetches` limits which outputs are computed (default: all). */
  async run(feeds: Record<string, TensorValue>, fetches?: readonly string[]): Promise<Record<string, TensorValue>> {
    for (const name of this.inner.inputNames) {
      if (!(name in feeds)) throw new VergeError('E_INPUT_MISSING', `${this.source} needs input '${name}'`);
    }
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrt(v);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = fetches ? await this.inner.run(ortFeeds, fetches as string[]) : await this.inner.run(ortFeeds);
    } catch (e) {
      throw runtimeError(e, `${this.source} failed to run`);
    }
    const res: Record<string, TensorValue> = {};
    for (const [k, v] of Object.entries(out)) res[k] = fromOrt(v as ort.Tensor);
    return res;
  }

  /** Stop profiling and return the profile file path (when profilePrefix was set). */
  endProfiling(): void {
    this.inner.endProfiling();
  }

  async release(): Promise<void> {
    await this.inner.release();
  }
}
