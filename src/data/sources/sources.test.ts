/**
 * The registry's coverage check (the shape of train/grad/grad.test.ts): every source lives in a
 * file named after it, is registered, and has a test file beside it describing it by name. Also
 * the dispatch rules every source relies on.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { chooseSource, describeDataset, loadDataset } from '../load-dataset.ts';
import { REPO_SUBSET_DIR } from './fashion-mnist.ts';
import { DATA_SOURCES } from './index.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Files in this folder that are not sources. */
const NOT_SOURCES = new Set(['source.ts', 'index.ts', 'catalog.ts']);
const tmp = mkdtempSync(join(tmpdir(), 'verge-sources-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('data source registry', () => {
  it('every source has its own file, is registered, and has a test file describing it', () => {
    const files = readdirSync(HERE).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !NOT_SOURCES.has(f));
    const names = DATA_SOURCES.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(files.map((f) => f.replace(/\.ts$/, '')).filter((f) => !names.includes(f))).toEqual([]);
    const untested = names.filter((n) => {
      const test = join(HERE, `${n}.test.ts`);
      return !existsSync(test) || !readFileSync(test, 'utf8').includes(`describe('${n}'`);
    });
    expect(untested).toEqual([]);
    for (const s of DATA_SOURCES) expect(existsSync(join(HERE, `${s.name}.ts`))).toBe(true);
  });

  it('says what it accepts when nothing claims a path, a name is unknown, or a flag does not apply', async () => {
    const empty = join(tmp, 'empty');
    writeFileSync(join(tmp, 'notes.bin'), 'hello');
    await expect(loadDataset('no-such-dataset')).rejects.toMatchObject({ code: 'E_DATA_NOT_FOUND' });
    await expect(loadDataset(join(tmp, 'notes.bin'))).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
      message: expect.stringContaining('npy-folder:'),
    });
    await expect(loadDataset('fashion-mnist', { format: 'nope' })).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    await expect(loadDataset('fashion-mnist', { window: 5 })).rejects.toMatchObject({
      code: 'E_BAD_ARGUMENT',
      message: expect.stringMatching(/^--window does not apply to fashion-mnist data/),
    });
    expect(() => chooseSource(empty)).toThrow(/neither a built-in dataset/);
  });

  it('reports what it read, and skipped items on their own lines', async () => {
    const ds = await loadDataset(REPO_SUBSET_DIR, { limits: { train: 3, test: 2 } });
    expect(ds.report?.format).toBe('idx');
    expect(ds.report?.read.files).toBe(4);
    const withSkips = {
      ...ds,
      report: { ...ds.report!, skipped: [{ reason: 'corrupt image', count: 7, examples: ['a.png', 'b.png'] }] },
    };
    expect(describeDataset(withSkips).split('\n')[1]).toBe('  skipped 7: corrupt image (a.png, b.png, …)');
  });
});
