/**
 * CLI output conventions: with --json, stdout carries exactly one JSON object and progress goes
 * to stderr; without it, a human-readable report goes to stdout.
 */
import cliProgress from 'cli-progress';
import type { DemoReporter } from '../demo/index.ts';

export interface OutputOptions {
  json?: boolean;
}

/** Print the command's result: one JSON object, or the human text. */
export function emit(opts: OutputOptions, json: unknown, human: () => string): void {
  if (opts.json) process.stdout.write(JSON.stringify(json) + '\n');
  else process.stdout.write(human() + (human().endsWith('\n') ? '' : '\n'));
}

/** Progress and notes: always stderr, so --json stdout stays parseable. */
export function note(message: string): void {
  process.stderr.write(message + '\n');
}

export interface Progress {
  update(value: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

/** cli-progress's own tokens; every other `{name}` in a format is a payload field. */
const BAR_TOKENS = new Set([
  'bar',
  'value',
  'total',
  'percentage',
  'eta',
  'eta_formatted',
  'duration',
  'duration_formatted',
]);
/** Least interval between two progress lines when stderr is not a terminal. */
const PLAIN_PROGRESS_INTERVAL_MS = 5000;

/** Seconds as `42s`, `3m05s` or `1h02m`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** Time left at a constant rate: `elapsed` for `done` of `total` units. */
export function etaSeconds(elapsedS: number, done: number, total: number): number {
  return done > 0 ? (elapsedS / done) * Math.max(0, total - done) : NaN;
}

/**
 * A progress bar on stderr with an ETA. `format` is cli-progress's (`{bar}`, `{value}`, `{total}`,
 * `{percentage}`) plus payload fields (`{loss}`) filled by `update`; fields not given yet show
 * '-'. When stderr is not a terminal (CI, pipes) it prints a line at most every few seconds
 * instead of redrawing.
 */
export function progressBar(total: number, format: string): Progress {
  const fields = [...format.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).filter((f) => !BAR_TOKENS.has(f));
  const blank = Object.fromEntries(fields.map((f) => [f, '-']));
  const withEta = /\{eta/.test(format) ? format : `${format} | ETA {eta_formatted}`;
  if (!process.stderr.isTTY) {
    let last = 0;
    const started = Date.now();
    return {
      update(value, payload = {}) {
        const now = Date.now();
        if (now - last < PLAIN_PROGRESS_INTERVAL_MS && value < total) return;
        last = now;
        const elapsed = (now - started) / 1000;
        const shown = Object.entries({ ...blank, ...payload })
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        const eta = value < total ? ` ETA ${formatSeconds(etaSeconds(elapsed, value, total))}` : '';
        note(
          `  ${value}/${total} (${Math.round((100 * value) / Math.max(1, total))}%) ${shown} [${formatSeconds(elapsed)}${eta}]`,
        );
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: withEta, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, blank);
  return {
    update: (value, payload) => bar.update(value, payload),
    stop: () => bar.stop(),
  };
}

/** The demos' progress, on stderr: numbered steps, notes, progress bars. */
export const stderrReporter: DemoReporter = {
  step: (n, total, text) => note(`[${n}/${total}] ${text}`),
  note,
  progress: (total, label, fields = []) =>
    progressBar(total, `  ${label} [{bar}] {value}/{total}${fields.map((f) => ` | ${f} {${f}}`).join('')}`),
};

/** Format a table of rows for human output. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  // numbers right-aligned so digits line up; text (names, reasons) left-aligned so it reads
  const numeric = header.map((_, i) =>
    rows.every((r) => r[i] === undefined || typeof r[i] === 'number' || /^[-+]?[\d.,]+[%x]?$|^-$/.test(String(r[i]))),
  );
  return cells
    .map((r, ri) => {
      const line = r
        .map((c, i) => (i === 0 || !numeric[i] ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
        .join('  ')
        .trimEnd();
      return ri === 0 ? line + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : line;
    })
    .join('\n');
}

/** Peak resident set size of this process in MiB. */
export function peakRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}
