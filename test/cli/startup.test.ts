/**
 * Command declarations stay light: `verge --help` and `verge <command> --help` read every
 * declaration (src/cli/commands/) but load no command's work (src/cli/actions/) and no heavy
 * library (onnxruntime, fastify, zod, protobuf, SQL, MQTT). A declaration needing a list or a
 * default from the library imports it from a data-only module of that layer (e.g.
 * src/optimize/quantize/defaults.ts); the start-up time itself is measured by bench/cli-startup.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, VERGE_BIN } from './cli.ts';

/** Packages a declaration may load (tsx: the source checkout's TypeScript loader). */
const ALLOWED_PACKAGES = new Set(['commander', 'tsx', 'get-tsconfig', 'resolve-pkg-maps', 'esbuild']);
/** A bound on verge modules loaded by help: every declaration plus its data-only constants. */
const MAX_SOURCE_MODULES = 80;

function importsOf(args: string[]): Promise<{ code: number | null; urls: string[]; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', join(ROOT, 'test/cli/trace-imports.mjs'), VERGE_BIN, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code, stdout, urls: [...stderr.matchAll(/^IMPORT (\S+)$/gm)].map((m) => m[1]!) }),
    );
  });
}

function packageOf(url: string): string | undefined {
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  return m?.[1];
}

describe('verge --help loads declarations only', () => {
  for (const args of [
    ['--help'],
    ['quantize', '--help'],
    ['model', 'publish', '--help'],
    ['demo', 'quickstart', '--help'],
  ]) {
    it(`verge ${args.join(' ')}`, async () => {
      const r = await importsOf(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: verge/);
      const packages = new Set(r.urls.map(packageOf).filter((p): p is string => p !== undefined));
      expect([...packages].filter((p) => !ALLOWED_PACKAGES.has(p))).toEqual([]);
      const sources = [...new Set(r.urls.filter((u) => u.startsWith('file:') && u.includes('/src/')))];
      expect(sources.filter((u) => u.includes('/src/cli/actions/'))).toEqual([]);
      expect(sources.length).toBeLessThanOrEqual(MAX_SOURCE_MODULES);
    }, 60_000);
  }
});

describe('data-only lists agree with the library', () => {
  it('ARCHITECTURE_NAMES (train --arch choices) are the built-in architectures', async () => {
    const { ARCHITECTURE_NAMES } = await import('../../src/nn/architecture-names.ts');
    const { architectureNames } = await import('../../src/nn/architectures.ts');
    expect([...ARCHITECTURE_NAMES].sort()).toEqual(architectureNames().sort());
  });
});

describe('the data-source catalog (help) lists the registry', () => {
  it('SOURCE_CATALOG has every registered source with its summary', async () => {
    const { SOURCE_CATALOG } = await import('../../src/data/sources/catalog.ts');
    const { DATA_SOURCES } = await import('../../src/data/sources/index.ts');
    expect(SOURCE_CATALOG).toEqual(DATA_SOURCES.map((s) => ({ name: s.name, summary: s.summary })));
  });
});
