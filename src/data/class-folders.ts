/**
 * The `root/<class>/<file>` layout shared by image, text and audio folders, optionally split as
 * `root/train/<class>/…` and `root/test/<class>/…`. Without a test/ folder each file goes to the
 * test split by a hash of its path (hash-split.ts), so the split is stable. Node-only (lists
 * folders); the formats' decoders live with their sources.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { VergeError } from '../errors.ts';
import { fnv1a, inTestSplit } from './hash-split.ts';
import { HOLDOUT_FRACTION, SourceLog, unreadable, type DataTarget } from './sources/source.ts';

export interface ClassFile {
  /** Absolute path. */
  path: string;
  /** Path inside the dataset root ('train/cat/001.png'), used in reports. */
  rel: string;
  label: number;
}

export interface ClassFolders {
  /** Class names by label index. */
  classes: string[];
  train: ClassFile[];
  test: ClassFile[];
  /** 'folders': root/train + root/test; 'hash': one tree split by path hash. */
  split: 'folders' | 'hash';
}

/** Folders tried for each split when the root holds split folders. */
const TRAIN_DIRS = ['train', 'training'];
const TEST_DIRS = ['test', 'testing', 'val', 'validation'];
/** How many class folders `hasClassFiles` peeks into before deciding. */
const PEEK_FOLDERS = 8;

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    throw unreadable(dir, e, 'listed');
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function hasExt(name: string, exts: readonly string[]): boolean {
  return exts.includes(extname(name).toLowerCase());
}

/** The class root(s) of a folder: root/train (+ root/test), or root itself. */
function splitRoots(root: string, entries: readonly string[]): { train: string; test?: string } {
  const train = TRAIN_DIRS.find((d) => entries.includes(d) && isDir(join(root, d)));
  if (!train) return { train: root };
  const test = TEST_DIRS.find((d) => entries.includes(d) && isDir(join(root, d)));
  return { train: join(root, train), ...(test ? { test: join(root, test) } : {}) };
}

/** Cheap check for `claims`: do the first class folders hold files with one of `exts`? */
export function hasClassFiles(t: DataTarget, exts: readonly string[]): boolean {
  if (!t.isDir || !t.path) return false;
  const { train } = splitRoots(t.path, t.entries);
  let entries: string[];
  try {
    entries = readdirSync(train).sort();
  } catch {
    return false;
  }
  let peeked = 0;
  for (const e of entries) {
    const d = join(train, e);
    if (!isDir(d)) continue;
    try {
      if (readdirSync(d).some((f) => hasExt(f, exts))) return true;
    } catch {
      /* unreadable: not ours to claim */
    }
    if (++peeked >= PEEK_FOLDERS) break;
  }
  return false;
}

function classFolders(dir: string): string[] {
  return list(dir).filter((e) => !e.startsWith('.') && isDir(join(dir, e)));
}

/** Files of one class folder with a wanted extension; others are reported as skipped. */
function filesOf(dir: string, root: string, exts: readonly string[], log: SourceLog): string[] {
  const out: string[] = [];
  for (const f of list(dir)) {
    const p = join(dir, f);
    const rel = p.slice(root.length + 1);
    if (f.startsWith('.')) continue;
    if (!hasExt(f, exts)) {
      log.skip(`not a ${exts.join('/')} file`, rel);
      continue;
    }
    out.push(p);
  }
  return out;
}

/**
 * List a class-folder dataset. `known` (a trained model's classes) fixes the label order;
 * otherwise classes are the sorted folder names. An empty class folder is an error: it is
 * almost always a mistake, and silently dropping a class changes the model's outputs.
 */
export function listClassFolders(
  t: DataTarget,
  exts: readonly string[],
  log: SourceLog,
  known?: readonly string[],
): ClassFolders {
  const root = t.path!;
  const roots = splitRoots(root, t.entries);
  const names = classFolders(roots.train);
  if (roots.test) for (const n of classFolders(roots.test)) if (!names.includes(n)) names.push(n);
  if (names.length === 0)
    throw new VergeError('E_DATA_NOT_FOUND', `${t.spec} has no class folders (<class>/*${exts[0]})`);
  const classes = known ? [...known] : [...names].sort();
  const label = (name: string): number => {
    const i = classes.indexOf(name);
    if (i < 0)
      throw new VergeError(
        'E_DATA_INVALID',
        `${t.spec}: class folder '${name}' is not one of the model's classes (${classes.slice(0, 10).join(', ')}${classes.length > 10 ? ', …' : ''})`,
      );
    return i;
  };
  const collect = (dir: string, into: ClassFile[], split: string): void => {
    for (const name of classFolders(dir)) {
      const files = filesOf(join(dir, name), root, exts, log);
      if (files.length === 0)
        throw new VergeError(
          'E_DATA_INVALID',
          `class folder ${join(dir, name).slice(root.length + 1) || name} holds no ${exts.join('/')} files (${split}); remove it or add samples`,
        );
      const l = label(name);
      for (const p of files) into.push({ path: p, rel: p.slice(root.length + 1), label: l });
    }
  };
  const train: ClassFile[] = [];
  const test: ClassFile[] = [];
  if (roots.test) {
    collect(roots.train, train, 'train');
    collect(roots.test, test, 'test');
    return { classes, train, test, split: 'folders' };
  }
  const all: ClassFile[] = [];
  collect(roots.train, all, 'train');
  for (const f of all) (inTestSplit(f.rel, HOLDOUT_FRACTION) ? test : train).push(f);
  log.note(
    `no train/ and test/ folders: ${test.length} files (by a hash of their path, ~${HOLDOUT_FRACTION * 100}%) are the test split`,
  );
  return { classes, train, test, split: 'hash' };
}

/** Files in a class-mixed but stable order (so --limit takes every class, and runs agree). */
export function mixedOrder(files: readonly ClassFile[], limit?: number): ClassFile[] {
  const sorted = [...files].sort((a, b) => fnv1a(a.rel) - fnv1a(b.rel) || (a.rel < b.rel ? -1 : 1));
  return limit !== undefined ? sorted.slice(0, limit) : sorted;
}
