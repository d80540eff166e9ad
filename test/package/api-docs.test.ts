/**
 * The API reference (`npm run docs:api`, typedoc over every entry of the package's exports map)
 * builds with no errors and no warnings (broken {@link}s, unresolvable entry points), and has a
 * page per layer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

it('typedoc builds the API reference of every package entry without warnings', () => {
  const out = mkdtempSync(join(tmpdir(), 'verge-api-'));
  try {
    const typedoc = join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
    const r = spawnSync(process.execPath, [typedoc, '--out', out, '--treatWarningsAsErrors'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stdout + r.stderr).not.toMatch(/\[(error|warning)\]/);
    expect(r.status).toBe(0);
    const config = JSON.parse(readFileSync(join(ROOT, 'typedoc.json'), 'utf8')) as { entryPoints: string[] };
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const layers = Object.keys(pkg.exports)
      .filter((k) => k.startsWith('./') && k !== './package.json')
      .map((k) => k.slice(2));
    // every published entry is documented, and has its page
    for (const l of layers) {
      expect(config.entryPoints).toContain(`src/${l}/index.ts`);
      expect(existsSync(join(out, 'modules', `${l}.html`)), `no page for ${l}`).toBe(true);
    }
    const classes = readdirSync(join(out, 'classes'));
    for (const c of ['TrainingSession', 'EdgeAgent', 'FedAvg', 'Sequential'])
      expect(
        classes.some((f) => f.endsWith(`.${c}.html`)),
        `no page for ${c}`,
      ).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 600_000);
