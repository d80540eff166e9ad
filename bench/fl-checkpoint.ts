/**
 * Checkpoints of one long `npm run bench -- fl` accuracy run (`--checkpoint FILE`, `--resume FILE`), so a
 * run stopped on a loaded machine continues where it stopped instead of starting over. After each round
 * FILE (JSON: the run's label and recipe, the rounds so far, the strategy's state) is rewritten and the
 * global model is written next to it as FILE.r<round>.onnx (the previous round's model is then removed,
 * so a stop between the two writes leaves a consistent pair). src/fl/simulation.ts's `resume` makes the
 * continuation the same run: client seeds, lr schedule and sampling depend on the round only.
 */
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { loadModel, saveModel, writeFileAtomic } from '../src/onnx/io.ts';
import type { Model } from '../src/onnx/browser.ts';
import type { RoundReport, SimulationCheckpoint } from '../src/fl/simulation.ts';
import type { StrategyState } from '../src/fl/strategy/strategy.ts';

/** What must match for a continuation to be the same run. */
export interface CheckpointKey {
  label: string;
  recipe: string;
  train_samples: number;
  test_samples: number;
  seed: number;
}

interface CheckpointFile extends CheckpointKey {
  round: number;
  model: string;
  seconds: number;
  rounds: RoundReport[];
  strategy_state: Record<string, string>;
  written: string;
}

export interface Resumed {
  afterRound: number;
  model: Model;
  strategyState: StrategyState;
  rounds: RoundReport[];
  seconds: number;
}

const encode = (s: StrategyState) =>
  Object.fromEntries(
    Object.entries(s).map(([k, v]) => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')]),
  );

function decode(s: Record<string, string>): StrategyState {
  return Object.fromEntries(
    Object.entries(s).map(([k, b64]) => {
      const bytes = Buffer.from(b64, 'base64');
      return [k, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))];
    }),
  );
}

/** Reads a checkpoint and checks it belongs to this run; one clear error otherwise. */
export function readCheckpoint(file: string, key: CheckpointKey): Resumed {
  if (!existsSync(file)) throw new Error(`--resume: ${file} does not exist`);
  const c = JSON.parse(readFileSync(file, 'utf8')) as CheckpointFile;
  for (const k of Object.keys(key) as (keyof CheckpointKey)[])
    if (c[k] !== key[k])
      throw new Error(
        `--resume: ${file} is another run (${k} ${JSON.stringify(c[k])}, this run ${JSON.stringify(key[k])})`,
      );
  return {
    afterRound: c.round,
    model: loadModel(join(dirname(file), c.model)),
    strategyState: decode(c.strategy_state),
    rounds: c.rounds,
    seconds: c.seconds,
  };
}

/** Writes round c.round's checkpoint of the run `key` (the rounds so far and the seconds they took). */
export function writeCheckpoint(
  file: string,
  key: CheckpointKey,
  c: SimulationCheckpoint,
  rounds: RoundReport[],
  seconds: number,
): void {
  const model = `${basename(file)}.r${c.round}.onnx`;
  saveModel(c.model(), join(dirname(file), model));
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CheckpointFile).model : undefined;
  const body: CheckpointFile = {
    ...key,
    round: c.round,
    model,
    seconds,
    rounds,
    strategy_state: encode(c.strategyState),
    written: new Date().toISOString(),
  };
  writeFileAtomic(file, JSON.stringify(body));
  if (previous && previous !== model && existsSync(join(dirname(file), previous)))
    unlinkSync(join(dirname(file), previous));
}
