/**
 * npm runs without "Unknown project config" warnings (no project .npmrc), and onnxruntime-node's
 * install script (which would download CUDA provider binaries) is denied by package.json's
 * allowScripts instead: verge uses the CPU binaries the package ships.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe('npm configuration', () => {
  it('has no project .npmrc and npm prints no config warning', () => {
    expect(existsSync(join(ROOT, '.npmrc'))).toBe(false);
    const r = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(/Unknown project config/);
  });
  it('denies onnxruntime-node its download script and allows the native builds verge needs', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      allowScripts: Record<string, boolean>;
    };
    expect(pkg.allowScripts['onnxruntime-node']).toBe(false);
    expect(pkg.allowScripts['better-sqlite3']).toBe(true);
  });
});
