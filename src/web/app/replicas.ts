/**
 * Data-parallel training in a browser: the replicas of a TrainingSession (train/data-parallel.ts)
 * as dedicated web workers, each running the training graph's gradient part on onnxruntime-web
 * with one WebAssembly thread (replica-worker.ts). The page's own session is the first replica.
 * onnxruntime-web's intra-op threads barely pay for training (bench/browser: 2 threads 1.05× one
 * thread's samples/s, with 1.3× the CPU per step); whole shards of the batch in separate workers
 * need no synchronisation inside a step. Workers take no cross-origin isolation (messages, no
 * shared memory), so this also runs on pages that cannot have WASM threads.
 */
import type { TensorValue } from '../../runtime/index.ts';
import { MAX_OWN_SHARE, type GradientReplicas, type GraphRunner } from '../../train/browser.ts';

/** Replicas (the page's session included) unless asked otherwise: one per logical core, at most 4. */
export const MAX_DEFAULT_REPLICAS = 4;

export function defaultReplicas(): number {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(MAX_DEFAULT_REPLICAS, cores));
}

/**
 * Rows the page's session takes per row a worker takes (GradientReplicas.ownShare): the page's
 * thread also combines the gradients and runs the update. 1 until measured otherwise.
 */
export const DEFAULT_OWN_SHARE = 1;

/** How a page trains: see trainingParallelism. */
export interface TrainingParallelism {
  replicas: number;
  threads: number | undefined;
  ownShare: number;
}

/**
 * How a page trains, from its query: `replicas` (sessions computing each batch's gradients, the
 * page's included; default defaultReplicas()), `threads` (onnxruntime-web's WebAssembly threads
 * per session; default 1 with several replicas, else onnxruntime-web's own choice) and `share`
 * (the page's rows per worker's row; default DEFAULT_OWN_SHARE).
 */
export function trainingParallelism(q: { threads?: number; replicas?: number; share?: number }): TrainingParallelism {
  const replicas = q.replicas ?? defaultReplicas();
  if (!(Number.isInteger(replicas) && replicas >= 1 && replicas <= 64))
    throw new Error(`replicas must be an integer from 1 to 64, got ${q.replicas}`);
  const ownShare = q.share ?? DEFAULT_OWN_SHARE;
  if (!(Number.isFinite(ownShare) && ownShare > 0 && ownShare <= MAX_OWN_SHARE))
    throw new Error(`share must be a number above 0 and at most ${MAX_OWN_SHARE}, got ${q.share}`);
  return { replicas, threads: q.threads ?? (replicas > 1 ? 1 : undefined), ownShare };
}

/** trainingParallelism from a page's query string (`?replicas=2&threads=1&share=0.8`). */
export function parallelismFromQuery(query: URLSearchParams): TrainingParallelism {
  const num = (k: string) => (query.has(k) ? { [k]: Number(query.get(k)) } : {});
  return trainingParallelism({ ...num('threads'), ...num('replicas'), ...num('share') });
}

interface Reply {
  id: number;
  outputs?: Record<string, TensorValue>;
  error?: string;
}

/** One worker running one session; calls are answered in order. */
class WorkerRunner implements GraphRunner {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();

  constructor(private readonly worker: Worker) {
    worker.onmessage = (e: MessageEvent<Reply>) => {
      const p = this.pending.get(e.data.id);
      this.pending.delete(e.data.id);
      p?.resolve(e.data);
    };
    worker.onerror = (e) => this.fail(new Error(`replica worker: ${e.message || 'failed to start'}`));
  }

  private fail(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call(message: Record<string, unknown>, transfer: Transferable[]): Promise<Reply> {
    const id = this.next++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    }).then((r) => {
      if (r.error) throw new Error(`replica worker: ${r.error}`);
      return r;
    });
  }

  async start(model: Uint8Array, wasmAssets: string): Promise<void> {
    const bytes = model.slice();
    await this.call({ kind: 'start', model: bytes, wasmAssets }, [bytes.buffer]);
  }

  async run(feeds: Record<string, TensorValue>): Promise<Record<string, TensorValue>> {
    // compact copies, transferred: a feed may be a view into a much larger buffer (a batch of a
    // whole dataset), which a plain postMessage would copy entirely
    const sent: Record<string, TensorValue> = {};
    const transfer: Transferable[] = [];
    for (const k in feeds) {
      const v = feeds[k]!;
      const data = v.data.slice() as TensorValue['data'];
      sent[k] = { dtype: v.dtype, dims: v.dims, data };
      if (!Array.isArray(data)) transfer.push((data as Float32Array).buffer);
    }
    return (await this.call({ kind: 'run', feeds: sent }, transfer)).outputs!;
  }

  release(): Promise<void> {
    this.fail(new Error('replica worker released'));
    this.worker.terminate();
    return Promise.resolve();
  }
}

/**
 * `count` replica workers (count ≥ 0; the page's session is one more replica). `wasmAssets`: where
 * onnxruntime-web's files are served, as for configureRuntime. `ownShare` and `optional`: as
 * GradientReplicas's.
 */
export function workerReplicas(
  count: number,
  wasmAssets: string,
  opts: Pick<GradientReplicas, 'ownShare' | 'optional'> = {},
): GradientReplicas {
  return {
    ...opts,
    start: async (model) => {
      const runners: WorkerRunner[] = [];
      try {
        for (let i = 0; i < count; i++) {
          const r = new WorkerRunner(new Worker(new URL('./replica-worker.js', import.meta.url), { type: 'module' }));
          runners.push(r);
        }
        await Promise.all(runners.map((r) => r.start(model, wasmAssets)));
        return runners;
      } catch (e) {
        for (const r of runners) await r.release();
        throw e;
      }
    },
  };
}
