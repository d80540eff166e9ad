/** What the training page (app/train.ts) exposes as `window.vergeTraining`: read by the tests and bench/browser. */
import type { EpochRecord } from '../train/browser.ts';

export interface TrainingOutcome {
  state: 'idle' | 'loading' | 'training' | 'done' | 'error';
  backend: string;
  /** WebAssembly threads: ?threads=, or onnxruntime-web's choice once training started (null before). */
  threads: number | null;
  /** Data-parallel replicas computing each batch's gradients (the page's session and its workers). */
  replicas: number;
  crossOriginIsolated: boolean;
  history: EpochRecord[];
  samplesPerSec?: number;
  test?: { accuracy: number; loss: number; samples: number };
  gallery?: { label: number; predicted: number }[];
  error?: string;
}
