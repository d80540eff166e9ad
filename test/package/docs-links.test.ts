/**
 * The repository documents itself: README.md and docs/*.md link only to files that exist inside the
 * repository (the README once linked ../shared/DESIGN.md, outside it), and every `src/…` path they
 * name exists (it once listed a src/fl/ that did not).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCS = [
  join(ROOT, 'README.md'),
  join(ROOT, 'examples', 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
];

describe.each(DOCS.map((d) => [relative(ROOT, d), d]))('%s', (_name, file) => {
  const text = readFileSync(file, 'utf8');

  it('links only to files inside the repository that exist', () => {
    const bad: string[] = [];
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!.split('#')[0]!;
      if (!target || /^[a-z]+:/i.test(target)) continue; // http(s), mailto, in-page anchors
      const path = resolve(dirname(file), target);
      if (relative(ROOT, path).startsWith('..')) bad.push(`${target} (outside the repository)`);
      else if (!existsSync(path)) bad.push(`${target} (missing)`);
    }
    expect(bad).toEqual([]);
  });

  it('names only src/ paths that exist', () => {
    const missing = [...text.matchAll(/`(src\/[\w./-]*[\w/])`/g)]
      .map((m) => m[1]!)
      .filter((p) => !p.includes('*') && !p.includes('<') && !existsSync(join(ROOT, p)));
    expect(missing).toEqual([]);
  });
});

/** Every file under these folders, repository-relative (for names the docs give relative to a folder). */
function filesUnder(...dirs: string[]): string[] {
  return dirs.flatMap((d) =>
    readdirSync(join(ROOT, d), { recursive: true, encoding: 'utf8' }).map((f) => `${d}/${f.split('\\').join('/')}`),
  );
}

describe('docs/architecture.md', () => {
  it('names only files that exist (paths from the root, or relative to the folder it is describing)', () => {
    const text = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    const files = filesUnder('src', 'test', 'scripts', 'bench');
    // `.d.ts` is an extension, not a file
    const named = [...text.matchAll(/`([\w./-]+\.(?:ts|js|json))`/g)]
      .map((m) => m[1]!)
      .filter((n) => !n.startsWith('.'));
    expect(named.length).toBeGreaterThan(60);
    const fromRoot = (n: string) => /^(src|test|scripts|bench|bin)\//.test(n) || /^[\w.-]+\.json$/.test(n);
    const missing = named.filter((n) =>
      fromRoot(n) ? !existsSync(join(ROOT, n)) : !files.some((f) => f.endsWith(`/${n}`)),
    );
    expect(missing).toEqual([]);
  });
});
