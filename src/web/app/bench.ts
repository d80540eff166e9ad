/**
 * bench/browser's page: runs src/web/speed.ts on onnxruntime-web in this tab with the options in
 * the query (`batch`, `steps`, `warmup`, `runs`, `replicas`, `threads`, `share`; without them, what the
 * training page uses: replicas.ts's trainingParallelism) and exposes `window.vergeBench` ({state, result | error})
 * for the harness; `worker=1` runs it in a dedicated worker (bench-worker.ts) instead of the page's
 * main thread. When the harness exposes `window.vergeBenchMark`, it is awaited right before and
 * after the timed training steps (the harness reads the browser's CPU time then). Also usable by
 * hand: open bench.html?steps=20.
 */
import { configureRuntime, webRuntimeThreads } from '../../runtime/index.ts';
import { measureSpeed, type SpeedOptions, type SpeedResult } from '../speed.ts';
import { fetchFashionMnist } from './fashion.ts';
import { parallelismFromQuery, workerReplicas } from './replicas.ts';

declare global {
  interface Window {
    vergeBench: {
      state: 'running' | 'done' | 'error';
      /** threads: the WebAssembly threads the run used (the query's, or onnxruntime-web's choice). */
      result?: SpeedResult & { threads: number | null; crossOriginIsolated: boolean; hardwareConcurrency: number };
      error?: string;
    };
    vergeBenchMark?: (phase: 'start' | 'end') => Promise<void>;
  }
}

const q = new URLSearchParams(location.search);
const num = (k: string, d: number) => Number(q.get(k) ?? d);
// the training page's defaults unless the query says (replicas: data-parallel workers, replicas.ts)
const { replicas, threads, ownShare } = parallelismFromQuery(q);
const inWorker = q.get('worker') === '1';
const wasmAssets = new URL('ort/', location.href).href;
const speed: SpeedOptions = {
  batch: num('batch', 64),
  steps: num('steps', 20),
  warmupSteps: num('warmup', 3),
  inferenceRuns: num('runs', 100),
};
const mark = (phase: 'start' | 'end') => window.vergeBenchMark?.(phase);
if (!inWorker) configureRuntime({ wasmAssets, ...(threads ? { threads } : {}) });
const hardwareConcurrency = navigator.hardwareConcurrency;
window.vergeBench = { state: 'running' };
const out = document.getElementById('out')!;
out.textContent = 'running…';

async function viaWorker(): Promise<SpeedResult & { crossOriginIsolated: boolean; threads: number | null }> {
  const w = new Worker(new URL('./bench-worker.js', import.meta.url), { type: 'module' });
  const job = {
    wasmAssets,
    data: new URL('data/fashion-mnist/', location.href).href,
    threads,
    replicas,
    ownShare,
    speed,
  };
  return new Promise((resolve, reject) => {
    type Reply = {
      result?: SpeedResult;
      crossOriginIsolated?: boolean;
      threads?: number;
      error?: string;
      mark?: 'start' | 'end';
    };
    w.onmessage = (e: MessageEvent<Reply>) => {
      const phase = e.data.mark;
      if (phase) {
        void Promise.resolve(mark(phase)).then(() => w.postMessage({ marked: phase }));
        return;
      }
      w.terminate();
      if (e.data.result)
        resolve({
          ...e.data.result,
          crossOriginIsolated: e.data.crossOriginIsolated === true,
          threads: e.data.threads ?? threads ?? null,
        });
      else reject(new Error(e.data.error ?? 'worker failed'));
    };
    w.onerror = (e) => reject(new Error(e.message));
    w.postMessage({ ...job, marks: typeof window.vergeBenchMark === 'function' });
  });
}

async function main(): Promise<void> {
  if (inWorker) {
    const r = await viaWorker();
    window.vergeBench = { state: 'done', result: { ...r, hardwareConcurrency } };
    out.textContent = JSON.stringify(window.vergeBench.result, null, 2);
    return;
  }
  const data = await fetchFashionMnist('data/fashion-mnist/', { test: 1 });
  const r = await measureSpeed(data.train, {
    ...speed,
    onTimed: mark,
    ...(replicas > 1 ? { replicas: workerReplicas(replicas - 1, wasmAssets, { ownShare }) } : {}),
  });
  window.vergeBench = {
    state: 'done',
    result: {
      ...r,
      threads: webRuntimeThreads() ?? threads ?? null,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      hardwareConcurrency,
    },
  };
  out.textContent = JSON.stringify(window.vergeBench.result, null, 2);
}

main().catch((e: Error) => {
  window.vergeBench = { state: 'error', error: e.message };
  out.textContent = `error: ${e.message}`;
});
