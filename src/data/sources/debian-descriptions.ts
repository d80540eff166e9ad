/**
 * `debian-descriptions`: a real text-classification set nobody here wrote — Debian package
 * descriptions (the one-line synopsis `apt-cache dumpavail` prints) labelled with the package's
 * section, for the 10 largest sections. Built reproducibly: packages sorted by name, the section's
 * archive area ("contrib/net" → "net") dropped, test = packages whose name hashes into 10%
 * (hash-split.ts). The CSVs are cached under the cache folder keyed by a hash of the dumpavail
 * output, never committed. Then read like any text CSV (text-csv.ts).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VergeError } from '../../errors.ts';
import type { Dataset } from '../dataset.ts';
import { inTestSplit } from '../hash-split.ts';
import { HOLDOUT_FRACTION, type DataSource, type SourceOptions } from './source.ts';
import { sourceSummary } from './catalog.ts';
import { loadTextCsv } from './text-csv.ts';

/** Sections kept: the largest by package count. */
export const DEBIAN_SECTIONS = 10;
/** dumpavail prints ~50 MB on a full Debian mirror list. */
const MAX_DUMPAVAIL_BYTES = 1024 * 1024 * 1024;

export interface DebianPackage {
  name: string;
  section: string;
  description: string;
}

/** Parse dumpavail's RFC 822 paragraphs: the first entry of each package with a section and a description. */
export function parseDumpavail(text: string): DebianPackage[] {
  const seen = new Set<string>();
  const out: DebianPackage[] = [];
  for (const para of text.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined => new RegExp(`^${name}: *(.*)$`, 'm').exec(para)?.[1]?.trim();
    const name = field('Package');
    const section = field('Section');
    const description = field('Description');
    if (!name || !section || !description || seen.has(name)) continue;
    seen.add(name);
    out.push({ name, section: section.slice(section.lastIndexOf('/') + 1), description });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The packages of the `n` largest sections (ties by section name). */
export function largestSections(pkgs: readonly DebianPackage[], n = DEBIAN_SECTIONS): DebianPackage[] {
  const counts = new Map<string, number>();
  for (const p of pkgs) counts.set(p.section, (counts.get(p.section) ?? 0) + 1);
  const keep = new Set(
    [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n)
      .map(([s]) => s),
  );
  return pkgs.filter((p) => keep.has(p.section));
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvOf(pkgs: readonly DebianPackage[]): string {
  return (
    ['package,section,text', ...pkgs.map((p) => [p.name, p.section, p.description].map(csvField).join(','))].join(
      '\n',
    ) + '\n'
  );
}

export async function dumpavail(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('apt-cache', ['dumpavail'], {
      maxBuffer: MAX_DUMPAVAIL_BYTES,
      encoding: 'utf8',
    });
    return stdout;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VergeError(
      'E_DATA_NOT_FOUND',
      code === 'ENOENT'
        ? 'debian-descriptions is built from `apt-cache dumpavail`, and apt-cache is not installed (a Debian or Ubuntu system has it)'
        : `apt-cache dumpavail failed: ${(e as Error).message.split('\n')[0]}`,
    );
  }
}

/** Build from dumpavail's output (or find in the cache) the folder holding train.csv and test.csv. */
export function debianDescriptionsFolder(
  text: string,
  cacheDir: string | undefined,
): { dir: string; cached: boolean; packages?: number } {
  const key = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = join(cacheDir ?? join(tmpdir(), 'verge-cache'), `debian-descriptions-${key}`);
  if (existsSync(join(dir, 'test.csv'))) return { dir, cached: true };
  const pkgs = largestSections(parseDumpavail(text));
  if (pkgs.length === 0)
    throw new VergeError(
      'E_DATA_NOT_FOUND',
      'apt-cache dumpavail lists no packages with sections (run apt-get update?)',
    );
  // Written to a temporary folder and renamed: a reader never sees half a dataset.
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'train.csv'), csvOf(pkgs.filter((p) => !inTestSplit(p.name, HOLDOUT_FRACTION))));
  writeFileSync(join(tmp, 'test.csv'), csvOf(pkgs.filter((p) => inTestSplit(p.name, HOLDOUT_FRACTION))));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return { dir, cached: false, packages: pkgs.length };
}

async function load(_t: unknown, opts: SourceOptions): Promise<Dataset> {
  const built = debianDescriptionsFolder(await dumpavail(), opts.cacheDir);
  const ds = await loadTextCsv(
    { spec: built.dir, path: built.dir, isDir: true, entries: readdirSync(built.dir).sort(), ext: '' },
    { ...opts, textColumn: 'text', label: 'section' },
  );
  const report = ds.report!;
  report.notes.unshift(
    built.cached
      ? `read from the cache (${built.dir}); the key is a hash of \`apt-cache dumpavail\`'s output`
      : `built from \`apt-cache dumpavail\`: ${built.packages} packages of the ${DEBIAN_SECTIONS} largest sections, test = package names hashing into ${HOLDOUT_FRACTION * 100}%; cached in ${built.dir}`,
  );
  return {
    ...ds,
    name: 'debian-descriptions',
    source: 'apt-cache dumpavail',
    report: { ...report, format: 'debian-descriptions' },
  };
}

export const debianDescriptions: DataSource = {
  name: 'debian-descriptions',
  summary: sourceSummary('debian-descriptions'),
  names: ['debian-descriptions'],
  options: ['tokenizer', 'vocabSize', 'maxLength'],
  claims: () => false,
  load,
};
