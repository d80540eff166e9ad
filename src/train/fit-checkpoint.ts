/**
 * fit's per-epoch checkpoints: the session state as an ONNX file of initializers plus a JSON file
 * naming it with the loop's own state (history, early-stopping progress, the run's configuration),
 * enough to continue a run exactly.
 */
import { existsSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { VergeError } from '../errors.ts';
import { writeFileAtomic } from '../onnx/io.ts';
import type { TrainingSession } from './session.ts';

export interface EpochRecord {
  epoch: number;
  loss: number;
  accuracy: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
  samples_per_sec: number;
  lr: number;
  steps: number;
}

/** What fit writes beside each checkpoint. */
export interface FitCheckpointState {
  version: 1;
  epoch: number;
  globalStep: number;
  checkpoint: string;
  history: EpochRecord[];
  best: { value: number; epoch: number } | null;
  wait: number;
  config: { batchSize: number; seed: number; shuffle: boolean; schedule: string; lr: number };
}

const STATE_FILE = 'fit-state.json';
/** Parameters of the best epoch so far (early stopping with restoreBest), kept across resumes. */
export const BEST_FILE = 'best.ckpt.onnx';

export function readCheckpointState(dir: string): FitCheckpointState | undefined {
  const p = join(dir, STATE_FILE);
  if (!existsSync(p)) return undefined;
  try {
    const s = JSON.parse(readFileSync(p, 'utf8')) as FitCheckpointState;
    if (s.version !== 1 || typeof s.epoch !== 'number') throw new Error('unknown format');
    return s;
  } catch (e) {
    throw new VergeError('E_DATA_INVALID', `${p} is not a verge fit checkpoint state (${(e as Error).message})`);
  }
}

/** A resumed run must be configured as the checkpointed one, or it would not continue it. */
export function checkResumeConfig(saved: FitCheckpointState['config'], now: FitCheckpointState['config']): void {
  for (const k of Object.keys(now) as (keyof typeof now)[]) {
    if (saved[k] !== now[k]) {
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `cannot resume: the checkpoint was made with ${k}=${saved[k]}, this run has ${k}=${now[k]}`,
      );
    }
  }
}

/**
 * Checkpoint file first (atomic), then the state JSON naming it (atomic), then older checkpoint
 * files go: a crash at any point leaves a state file that names a complete checkpoint.
 */
export function writeCheckpoint(session: TrainingSession, dir: string, state: FitCheckpointState): void {
  const file = `epoch-${String(state.epoch).padStart(4, '0')}.ckpt.onnx`;
  session.saveCheckpoint(join(dir, file));
  writeFileAtomic(join(dir, STATE_FILE), JSON.stringify({ ...state, checkpoint: file }, null, 1) + '\n');
  for (const f of readdirSync(dir)) {
    if (/^epoch-\d+\.ckpt\.onnx$/.test(f) && f !== file) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        /* already gone */
      }
    }
  }
}
