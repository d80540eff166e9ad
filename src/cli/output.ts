/**
 * CLI output conventions: with --json, stdout carries exactly one JSON object and progress goes
 * to stderr; without it, a human-readable report goes to stdout.
 */
import cliProgress from 'cli-progress';

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

/**
 * A progress bar on stderr. When stderr is not a terminal (CI, pipes) it prints a line at most
 * every few seconds instead of redrawing.
 */
export function progressBar(total: number, format: string): Progress {
  if (!process.stderr.isTTY) {
    let last = 0;
    const started = Date.now();
    return {
      update(value, payload = {}) {
        const now = Date.now();
        if (now - last < 5000 && value < total) return;
        last = now;
        const fields = Object.entries(payload)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ');
        note(
          `  ${value}/${total} (${Math.round((100 * value) / Math.max(1, total))}%) ${fields} [${((now - started) / 1000).toFixed(0)}s]`,
        );
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (value, payload) => bar.update(value, payload),
    stop: () => bar.stop(),
  };
}

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
