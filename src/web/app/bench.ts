/**
 * bench/browser's page: runs src/web/speed.ts on onnxruntime-web in this tab with the options in
 * the query (`batch`, `steps`, `warmup`, `runs`, `threads`) and exposes `window.vergeBench`
 * ({state, result | error}) for the harness; `worker=1` runs it in a dedicated worker
 * (bench-worker.ts) instead of the page's main thread. Also usable by hand: open bench.html?steps=20.
 */
import { configureRuntime } from '../../runtime/index.ts';
import { measureSpeed, type SpeedOptions, type SpeedResult } from '../speed.ts';
import { fetchFashionMnist } from './fashion.ts';

declare global {
  interface Window {
    vergeBench: {
      state: 'running' | 'done' | 'error';
      result?: SpeedResult & { threads: number; crossOriginIsolated: boolean };
      error?: string;
    };
  }
}

const q = new URLSearchParams(location.search);
const num = (k: string, d: number) => Number(q.get(k) ?? d);
const threads = num('threads', 1);
const inWorker = q.get('worker') === '1';
const wasmAssets = new URL('ort/', location.href).href;
const speed: SpeedOptions = {
  batch: num('batch', 64),
  steps: num('steps', 20),
  warmupSteps: num('warmup', 3),
  inferenceRuns: num('runs', 100),
};
if (!inWorker) configureRuntime({ wasmAssets, threads });
window.vergeBench = { state: 'running' };
const out = document.getElementById('out')!;
out.textContent = 'running…';

async function viaWorker(): Promise<SpeedResult & { crossOriginIsolated: boolean }> {
  const w = new Worker(new URL('./bench-worker.js', import.meta.url), { type: 'module' });
  const job = { wasmAssets, data: new URL('data/fashion-mnist/', location.href).href, threads, speed };
  return new Promise((resolve, reject) => {
    w.onmessage = (e: MessageEvent<{ result?: SpeedResult; crossOriginIsolated?: boolean; error?: string }>) => {
      w.terminate();
      if (e.data.result) resolve({ ...e.data.result, crossOriginIsolated: e.data.crossOriginIsolated === true });
      else reject(new Error(e.data.error ?? 'worker failed'));
    };
    w.onerror = (e) => reject(new Error(e.message));
    w.postMessage(job);
  });
}

async function main(): Promise<void> {
  if (inWorker) {
    const r = await viaWorker();
    window.vergeBench = { state: 'done', result: { ...r, threads } };
    out.textContent = JSON.stringify(window.vergeBench.result, null, 2);
    return;
  }
  const data = await fetchFashionMnist('data/fashion-mnist/', { test: 1 });
  const r = await measureSpeed(data.train, speed);
  window.vergeBench = {
    state: 'done',
    result: { ...r, threads, crossOriginIsolated: globalThis.crossOriginIsolated === true },
  };
  out.textContent = JSON.stringify(window.vergeBench.result, null, 2);
}

main().catch((e: Error) => {
  window.vergeBench = { state: 'error', error: e.message };
  out.textContent = `error: ${e.message}`;
});
