/**
 * The repository documents itself: README.md and docs/*.md link only to files that exist inside the
 * repository (the README once linked ../shared/DESIGN.md, outside it), and every `src/…` path they
 * name exists (it once listed a src/fl/ that did not). Their TypeScript examples import verge by
 * its package name and entries, and only names those entries export (the README's example once
 * imported a ./src/data/fashion-mnist.ts that did not exist, docs/training.md a 'verge/train').
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, unknown>;
};

/** The value imports (`import { a, b as c, type T } from 'x'`) of the ```ts blocks of a document. */
function codeImports(text: string): { names: string[]; from: string }[] {
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((b) =>
    [...b.matchAll(/^import\s+\{([^}]*)\}\s+from\s+'([^']+)'/gm)].map((m) => ({
      names: m[1]!
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n && !n.startsWith('type '))
        .map((n) => n.split(/\s+as\s+/)[0]!),
      from: m[2]!,
    })),
  );
}
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

  it("imports in its TypeScript examples name the package's entries and names they export", async () => {
    const bad: string[] = [];
    for (const { names, from } of codeImports(text)) {
      const entry = from === PKG.name ? '.' : from.startsWith(`${PKG.name}/`) ? `.${from.slice(PKG.name.length)}` : '';
      if (!entry || !(entry in PKG.exports)) {
        bad.push(`'${from}' is not an entry of the package '${PKG.name}'`);
        continue;
      }
      const source = join(ROOT, 'src', entry === '.' ? 'index.ts' : `${entry.slice(2)}/index.ts`);
      const mod = (await import(source)) as Record<string, unknown>;
      for (const n of names) if (!(n in mod)) bad.push(`'${from}' does not export ${n}`);
    }
    expect(bad).toEqual([]);
  }, 120_000);

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
