/**
 * Learning-rate schedules: a function from the global optimizer step (0-based) to the learning
 * rate, built from a small spec so the CLI and checkpoints can describe it as text.
 */
import { VergeError } from '../errors.ts';

export type Schedule = (step: number) => number;

export type ScheduleSpec =
  | { kind: 'constant'; warmup?: number }
  /** Multiply by `gamma` every `every` steps (PyTorch's StepLR, counted in optimizer steps). */
  | { kind: 'step'; every: number; gamma?: number; warmup?: number }
  /** Cosine decay from the base rate to `minLr` over the whole run (PyTorch's CosineAnnealingLR, one half period). */
  | { kind: 'cosine'; minLr?: number; warmup?: number };

/** StepLR's usual factor. */
export const DEFAULT_STEP_GAMMA = 0.1;

/**
 * The schedule for a run of `totalSteps` steps from `baseLr`. A linear warm-up over the first
 * `warmup` steps ramps from baseLr/warmup up to baseLr, then the schedule proper starts.
 */
export function makeSchedule(spec: ScheduleSpec, baseLr: number, totalSteps: number): Schedule {
  if (!(baseLr > 0)) throw new VergeError('E_BAD_ARGUMENT', `learning rate must be positive, got ${baseLr}`);
  const warmup = spec.warmup ?? 0;
  if (!(Number.isInteger(warmup) && warmup >= 0))
    throw new VergeError('E_BAD_ARGUMENT', `warm-up must be a whole number of steps, got ${warmup}`);
  let after: Schedule;
  switch (spec.kind) {
    case 'constant':
      after = () => baseLr;
      break;
    case 'step': {
      if (!(Number.isInteger(spec.every) && spec.every > 0))
        throw new VergeError('E_BAD_ARGUMENT', `step schedule needs a positive step count, got ${spec.every}`);
      const gamma = spec.gamma ?? DEFAULT_STEP_GAMMA;
      after = (s) => baseLr * gamma ** Math.floor(s / spec.every);
      break;
    }
    case 'cosine': {
      const minLr = spec.minLr ?? 0;
      const span = Math.max(1, totalSteps - warmup);
      after = (s) => minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos((Math.PI * Math.min(s, span)) / span));
      break;
    }
    default:
      throw new VergeError('E_BAD_ARGUMENT', `unknown schedule '${(spec as { kind: string }).kind}'`);
  }
  return (step) => (step < warmup ? (baseLr * (step + 1)) / warmup : after(step - warmup));
}

/**
 * Parse the CLI's --schedule text: `constant`, `step:<every>[:<gamma>]`, `cosine[:<min_lr>]`,
 * each optionally followed by `+warmup:<steps>` (e.g. `cosine+warmup:200`).
 */
export function parseSchedule(text: string): ScheduleSpec {
  const bad = (why: string) =>
    new VergeError(
      'E_BAD_ARGUMENT',
      `bad --schedule '${text}': ${why} (expected constant | step:<steps>[:<gamma>] | cosine[:<min_lr>], optionally +warmup:<steps>)`,
    );
  const [main, ...mods] = text.trim().split('+');
  let warmup: number | undefined;
  for (const m of mods) {
    const [k, v] = m.split(':');
    if (k !== 'warmup' || v === undefined || !/^\d+$/.test(v)) throw bad(`unknown modifier '${m}'`);
    warmup = Number(v);
  }
  const parts = (main ?? '').split(':');
  const num = (s: string | undefined, what: string): number => {
    const v = Number(s);
    if (s === undefined || s === '' || !Number.isFinite(v)) throw bad(`${what} is not a number`);
    return v;
  };
  const w = warmup !== undefined ? { warmup } : {};
  switch (parts[0]) {
    case 'constant':
      if (parts.length > 1) throw bad('constant takes no arguments');
      return { kind: 'constant', ...w };
    case 'step': {
      const every = num(parts[1], 'the step count');
      if (!(Number.isInteger(every) && every > 0)) throw bad('the step count must be a positive integer');
      return { kind: 'step', every, ...(parts[2] !== undefined ? { gamma: num(parts[2], 'gamma') } : {}), ...w };
    }
    case 'cosine':
      return { kind: 'cosine', ...(parts[1] !== undefined ? { minLr: num(parts[1], 'min_lr') } : {}), ...w };
    default:
      throw bad(`unknown schedule '${parts[0]}'`);
  }
}

export function describeSchedule(spec: ScheduleSpec): string {
  const w = spec.warmup ? `+warmup:${spec.warmup}` : '';
  if (spec.kind === 'step') return `step:${spec.every}:${spec.gamma ?? DEFAULT_STEP_GAMMA}${w}`;
  if (spec.kind === 'cosine') return `cosine:${spec.minLr ?? 0}${w}`;
  return `constant${w}`;
}
