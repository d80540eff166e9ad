import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inTestSplit } from '../hash-split.ts';
import { debianDescriptionsFolder, largestSections, parseDumpavail } from './debian-descriptions.ts';
import { loadTextCsv } from './text-csv.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-debian-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** dumpavail-shaped paragraphs: 12 sections of decreasing size, a duplicate entry, a description with a comma. */
function dumpavail(): string {
  const paras: string[] = [];
  for (let s = 0; s < 12; s++) {
    for (let i = 0; i < 24 - s; i++) {
      const area = s === 3 ? 'contrib/' : '';
      paras.push(
        `Package: pkg-${s}-${i}\nVersion: 1.0\nDescription: tool number ${i}, for section ${s}\nTag: role::program,\n use::testing\nSection: ${area}sec${s}\nPriority: optional`,
      );
    }
  }
  paras.push('Package: pkg-0-0\nDescription: a second version of a package\nSection: sec5');
  paras.push('Package: no-section\nDescription: has no section');
  return paras.join('\n\n') + '\n';
}

describe('debian-descriptions', () => {
  it('keeps the first entry per package, drops the archive area and keeps the 10 largest sections', () => {
    const pkgs = parseDumpavail(dumpavail());
    expect(pkgs.length).toBe(12 * 24 - 66); // 24 + 23 + … + 13, duplicate and section-less left out
    expect(pkgs.find((p) => p.name === 'pkg-0-0')).toEqual({
      name: 'pkg-0-0',
      section: 'sec0',
      description: 'tool number 0, for section 0',
    });
    expect(pkgs.find((p) => p.name === 'pkg-3-0')?.section).toBe('sec3');
    const kept = largestSections(pkgs);
    expect([...new Set(kept.map((p) => p.section))].sort()).toEqual([
      'sec0',
      'sec1',
      'sec2',
      'sec3',
      'sec4',
      'sec5',
      'sec6',
      'sec7',
      'sec8',
      'sec9',
    ]);
  });

  it('writes train.csv/test.csv split by package name hash, reuses the cache, and reads as a text dataset', async () => {
    const built = debianDescriptionsFolder(dumpavail(), tmp);
    expect(built.cached).toBe(false);
    expect(debianDescriptionsFolder(dumpavail(), tmp)).toEqual({ dir: built.dir, cached: true });
    const test = readFileSync(join(built.dir, 'test.csv'), 'utf8').trim().split('\n').slice(1);
    expect(test.length).toBeGreaterThan(0);
    for (const line of test) expect(inTestSplit(line.split(',')[0]!, 0.1)).toBe(true);
    expect(test[0]).toMatch(/^pkg-\d+-\d+,sec\d,"tool number \d+, for section \d"$/);
    const ds = await loadTextCsv(
      { spec: built.dir, path: built.dir, isDir: true, entries: readdirSync(built.dir).sort(), ext: '' },
      { textColumn: 'text', label: 'section', maxLength: 6 },
    );
    expect([ds.classes, ds.shape, ds.inputDtype, ds.test.count]).toEqual([10, [6], 'int64', test.length]);
  });
});
