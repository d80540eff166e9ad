/** How the demos report progress without printing: the CLI implements this on stderr. */

export interface DemoProgress {
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export interface DemoReporter {
  /** A numbered step: `[n/total] text`. */
  step(n: number, total: number, text: string): void;
  /** A line of detail. */
  note(text: string): void;
  /** A progress bar over `total` units; `label` names what is counted (e.g. 'steps', 'images'). */
  progress(total: number, label: string, fields?: readonly string[]): DemoProgress;
}

const noProgress: DemoProgress = Object.freeze({ update() {}, stop() {} });

/** A reporter that reports nothing (library use, tests). */
export const silentReporter: DemoReporter = Object.freeze({ step() {}, note() {}, progress: () => noProgress });

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Nearest-rank quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
