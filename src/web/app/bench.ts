/**
 * bench/browser's page: runs src/web/speed.ts on onnxruntime-web in this tab with the options in
 * the query (`batch`, `steps`, `warmup`, `runs`, `threads`) and exposes `window.vergeBench`
 * ({state, result | error}) for the harness. Also usable by hand: open bench.html?steps=20.
 */
import { configureRuntime } from '../../runtime/index.ts';
import { measureSpeed, type SpeedResult } from '../speed.ts';
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
configureRuntime({ wasmAssets: new URL('ort/', location.href).href, threads });
window.vergeBench = { state: 'running' };
const out = document.getElementById('out')!;
out.textContent = 'running…';

async function main(): Promise<void> {
  const data = await fetchFashionMnist('data/fashion-mnist/', { test: 1 });
  const r = await measureSpeed(data.train, {
    batch: num('batch', 64),
    steps: num('steps', 20),
    warmupSteps: num('warmup', 3),
    inferenceRuns: num('runs', 100),
  });
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
