/**
 * Runs every script in examples/ the way its header says (tsx resolves `verge-edge` to the sources
 * through tsconfig.json's paths), with fewer steps where a flag allows it, and checks the JSON
 * summary each prints last. The list must name every example, so a new one gets a case.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const TSX = join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist', 'cli.mjs');
const TIMEOUT_MS = 600_000;

function runExample(file: string, args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [TSX, join('examples', file), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  if (r.status !== 0) throw new Error(`${file} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

const CASES: Record<string, { args: string[]; check: (s: Record<string, unknown>) => void }> = {
  'train-quantize-deploy.ts': {
    args: ['--steps', '120'],
    check: (s) => {
      expect(s.deployment).toBe('succeeded');
      expect(['fp32', 'int8']).toContain(s.variant);
      expect(s.accuracy as number).toBeGreaterThan(0.6);
      expect(Math.abs((s.int8_accuracy as number) - (s.accuracy as number))).toBeLessThan(0.05);
      expect(Number.isInteger(s.predicted)).toBe(true);
    },
  },
  'fine-tune-imported.ts': {
    args: [join('test', 'fixtures', 'models', 'seed_cnn_fmnist.onnx'), '--steps', '100'],
    check: (s) => {
      expect(s.after as number).toBeGreaterThan((s.before as number) + 0.2);
      expect(s.opset).toBe(13); // saved at the export's opset
    },
  },
  'custom-layer.ts': {
    args: ['--steps', '200'],
    check: (s) => {
      expect(s.accuracy as number).toBeGreaterThan(0.6);
      expect(s.beta_moved as number).toBeGreaterThan(0); // the custom parameter received gradients
      expect(s.ops).toMatchObject({ Sigmoid: 1, Mul: 2 });
    },
  },
  'federated-simulation.ts': {
    args: ['--rounds', '2', '--clients', '5'],
    check: (s) => {
      expect(s.rounds).toBe(2);
      expect((s.final as { accuracy: number }).accuracy).toBeGreaterThan(0.3);
      expect(s.uplink_ratio as number).toBeLessThan(0.3); // int8 updates
    },
  },
};

describe('examples/', () => {
  it('has a case for every example', () => {
    const scripts = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts'));
    expect(scripts.sort()).toEqual(Object.keys(CASES).sort());
  });
  for (const [file, c] of Object.entries(CASES)) {
    it(file, () => c.check(runExample(file, c.args)), TIMEOUT_MS);
  }
});
