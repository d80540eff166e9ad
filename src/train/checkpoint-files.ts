/**
 * Checkpoints on the file system (Node only; the browser-safe trainer takes any FitCheckpointStore):
 * a session's state as an ONNX file of initializers, and fit's per-epoch store in a folder — the
 * checkpoint file plus a JSON file naming it with the loop's state, enough to continue a run exactly.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { VergeError } from '../errors.ts';
import { loadModel, saveModel, writeFileAtomic } from '../onnx/index.ts';
import type { Model } from '../onnx/browser.ts';
import type { FitCheckpointState, FitCheckpointStore } from './fit.ts';
import type { TrainingSession } from './session.ts';

const STATE_FILE = 'fit-state.json';
/** Parameters of the best epoch so far (early stopping with restoreBest), kept across resumes. */
const BEST_FILE = 'best.ckpt.onnx';

/** Write a session's state as an ONNX file of initializers (atomic: temp file + rename). */
export function saveCheckpointFile(session: TrainingSession, path: string): void {
  saveModel(session.checkpointModel(), path);
}

export function loadCheckpointFile(session: TrainingSession, path: string): void {
  session.restoreCheckpoint(loadModel(path), path);
}

function readState(dir: string): FitCheckpointState | undefined {
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

/**
 * fit's checkpoints in a folder (created if missing). Saving writes the checkpoint file first
 * (atomic), then the state JSON naming it (atomic), then removes older checkpoint files: a crash at
 * any point leaves a state file that names a complete checkpoint.
 */
export function directoryCheckpoints(dir: string): FitCheckpointStore {
  mkdirSync(dir, { recursive: true });
  return {
    latest: async () => {
      const state = readState(dir);
      return state ? { state, checkpoint: loadModel(join(dir, state.checkpoint)) } : undefined;
    },
    save: async (state: FitCheckpointState, checkpoint: Model) => {
      const file = `epoch-${String(state.epoch).padStart(4, '0')}.ckpt.onnx`;
      saveModel(checkpoint, join(dir, file));
      writeFileAtomic(join(dir, STATE_FILE), JSON.stringify({ ...state, checkpoint: file }, null, 1) + '\n');
      for (const f of readdirSync(dir)) {
        if (!/^epoch-\d+\.ckpt\.onnx$/.test(f) || f === file) continue;
        try {
          unlinkSync(join(dir, f));
        } catch {
          /* already gone */
        }
      }
    },
    saveBest: async (checkpoint: Model) => void saveModel(checkpoint, join(dir, BEST_FILE)),
    best: async () => (existsSync(join(dir, BEST_FILE)) ? loadModel(join(dir, BEST_FILE)) : undefined),
  };
}
