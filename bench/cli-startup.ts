/**
 * `npm run bench -- cli-startup [--rounds N] [--no-build]`: start-up time of the installed CLI
 * (compiled JavaScript in dist/, as `npm pack` ships it) against a bare `node -e 0`, interleaved
 * in one run, medians of N (default 20): `verge --help`, `verge --version`, `verge info <small
 * model>`; and, for information, the source checkout's `bin/verge.js --help` (TypeScript through
 * tsx). Builds dist/ first unless --no-build. Targets (issue 15): --help ≤ 300 ms, info ≤ 500 ms.
 * Full run: about a minute plus the build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printTable, round, writeResult } from './lib.ts';

const ROOT = join(import.meta.dirname, '..');
const arg = (name: string) => process.argv.indexOf(name);
const ROUNDS = arg('--rounds') > 0 ? Number(process.argv[arg('--rounds') + 1]) : 20;
const SMALL_MODEL = join(ROOT, 'test', 'fixtures', 'models', 'seed_cnn_fmnist.onnx');

if (arg('--no-build') < 0) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
const tmp = mkdtempSync(join(tmpdir(), 'verge-cli-startup-'));
// what the installed package's bin runs: dist/cli/main.js
const entry = join(tmp, 'verge-dist.mjs');
writeFileSync(
  entry,
  `import { main } from ${JSON.stringify(join(ROOT, 'dist', 'cli', 'main.js'))};\nawait main(process.argv);\n`,
);

const CASES: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'verge --help': [entry, '--help'],
  'verge --version': [entry, '--version'],
  'verge info (seed CNN, 489 kB)': [entry, 'info', SMALL_MODEL],
  'source checkout: bin/verge.js --help (tsx)': [join(ROOT, 'bin', 'verge.js'), '--help'],
};

const times: Record<string, number[]> = Object.fromEntries(Object.keys(CASES).map((k) => [k, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, args] of Object.entries(CASES)) {
    const t0 = performance.now();
    const res = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (res.status !== 0) throw new Error(`${name} exited ${res.status}: ${res.stderr}`);
    times[name]!.push(ms);
  }
}
rmSync(tmp, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(times['node -e 0']!);
const results = Object.entries(times).map(([name, xs]) => ({
  name,
  median_ms: round(median(xs), 1),
  min_ms: round(Math.min(...xs), 1),
  over_node_ms: round(median(xs) - base, 1),
  ratio_to_node: round(median(xs) / base, 2),
}));
printTable(
  ['command', 'median ms', 'min ms', '- node ms', 'x node'],
  results.map((r) => [r.name, r.median_ms, r.min_ms, r.over_node_ms, r.ratio_to_node]),
);
console.log(`written ${writeResult('cli-startup', { rounds: ROUNDS, targets_ms: { help: 300, info: 500 }, results })}`);
