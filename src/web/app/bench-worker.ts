/**
 * bench.html's worker (`?worker=1`): the same src/web/speed.ts run as the page's, in a dedicated
 * worker instead of the page's main thread (onnxruntime-web starts its WebAssembly threads from
 * here). Posts back `{result, crossOriginIsolated, threads}` or `{error}`; with `marks`, posts `{mark}`
 * before and after the timed steps and waits for the page's `{marked}` (bench.ts's vergeBenchMark).
 */
import { configureRuntime, webRuntimeThreads } from '../../runtime/index.ts';
import { measureSpeed, type SpeedOptions } from '../speed.ts';
import { fetchFashionMnist } from './fashion.ts';
import { workerReplicas } from './replicas.ts';

interface Job {
  wasmAssets: string;
  data: string;
  /** Absent: onnxruntime-web's default. */
  threads?: number;
  /** Data-parallel replicas, this worker's session included (the others: workers it starts). */
  replicas: number;
  /** The rows this worker's session takes per row of a replica worker (GradientReplicas.ownShare). */
  ownShare: number;
  speed: SpeedOptions;
  marks: boolean;
}
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Job | { marked: string }>) => void) | null;
  postMessage(m: unknown): void;
};
let marked: (() => void) | undefined;
const mark = (phase: 'start' | 'end') =>
  new Promise<void>((resolve) => {
    marked = resolve;
    scope.postMessage({ mark: phase });
  });
scope.onmessage = (e) => {
  if ('marked' in e.data) {
    marked?.();
    return;
  }
  const j = e.data;
  configureRuntime({ wasmAssets: j.wasmAssets, ...(j.threads ? { threads: j.threads } : {}) });
  fetchFashionMnist(j.data, { test: 1 })
    .then((d) =>
      measureSpeed(d.train, {
        ...j.speed,
        ...(j.marks ? { onTimed: mark } : {}),
        ...(j.replicas > 1 ? { replicas: workerReplicas(j.replicas - 1, j.wasmAssets, { ownShare: j.ownShare }) } : {}),
      }),
    )
    .then(
      (result) =>
        scope.postMessage({
          result,
          crossOriginIsolated: globalThis.crossOriginIsolated === true,
          threads: webRuntimeThreads(),
        }),
      (err: Error) => scope.postMessage({ error: err.message }),
    );
};
