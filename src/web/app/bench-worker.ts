/**
 * bench.html's worker (`?worker=1`): the same src/web/speed.ts run as the page's, in a dedicated
 * worker instead of the page's main thread (onnxruntime-web starts its WebAssembly threads from
 * here). Posts back `{result, crossOriginIsolated}` or `{error}`.
 */
import { configureRuntime } from '../../runtime/index.ts';
import { measureSpeed, type SpeedOptions } from '../speed.ts';
import { fetchFashionMnist } from './fashion.ts';

interface Job {
  wasmAssets: string;
  data: string;
  threads: number;
  speed: SpeedOptions;
}
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job>) => void) | null;
  postMessage(m: unknown): void;
};
scope.onmessage = (e) => {
  const j = e.data;
  configureRuntime({ wasmAssets: j.wasmAssets, threads: j.threads });
  fetchFashionMnist(j.data, { test: 1 })
    .then((d) => measureSpeed(d.train, j.speed))
    .then(
      (result) => scope.postMessage({ result, crossOriginIsolated: globalThis.crossOriginIsolated === true }),
      (err: Error) => scope.postMessage({ error: err.message }),
    );
};
