/**
 * Tabular features from CSV columns: each column is numeric (every present value parses as a
 * number) or categorical (one-hot, or one index value). Encoders are fitted on the training rows
 * only and saved with the model (TabularPreprocessing), so eval, run and the agent encode new
 * rows identically. Standardization is not done here: `verge train` puts the training split's
 * per-feature mean and standard deviation into the model graph (Standardize layer). Pure.
 */
import { VergeError } from '../errors.ts';
import { isInfinite, isMissing, parseNumber } from './csv-table.ts';

/** A categorical column with more distinct values than this is refused (an id or free text?). */
export const MAX_CATEGORIES = 1000;
/** A text column whose values all differ over at least this many rows is an id, not a category. */
const ID_LIKE_ROWS = 20;

export interface NumericColumn {
  name: string;
  kind: 'numeric';
  /** Value used for a missing entry (the training mean). */
  impute: number;
}

export interface CategoricalColumn {
  name: string;
  kind: 'categorical';
  /** Known categories in encoding order (sorted). */
  categories: string[];
  encoding: 'onehot' | 'index';
  /** Category used for a missing entry (the most frequent in training). */
  impute: string;
}

export type FeatureColumn = NumericColumn | CategoricalColumn;

export interface TabularPreprocessing {
  kind: 'tabular';
  /** Feature columns in input order. */
  features: FeatureColumn[];
  /** The label (or regression target) column. */
  label: string;
  missing: 'drop' | 'impute';
}

/** Encoded width of the feature vector. */
export function featureWidth(cols: readonly FeatureColumn[]): number {
  return cols.reduce((n, c) => n + (c.kind === 'categorical' && c.encoding === 'onehot' ? c.categories.length : 1), 0);
}

/** Fit encoders for the columns at `indices` from the training rows. */
export function fitColumns(
  header: readonly string[],
  rows: readonly string[][],
  indices: readonly number[],
  encoding: 'onehot' | 'index',
  source: string,
): FeatureColumn[] {
  return indices.map((ci) => {
    const name = header[ci]!;
    let numeric = true;
    let sum = 0;
    let n = 0;
    const counts = new Map<string, number>();
    for (const r of rows) {
      const v = r[ci]!;
      if (isMissing(v) || isInfinite(v)) continue;
      counts.set(v, (counts.get(v) ?? 0) + 1);
      const x = parseNumber(v);
      if (x === undefined) numeric = false;
      else {
        sum += x;
        n++;
      }
    }
    if (counts.size === 0)
      throw new VergeError('E_DATA_INVALID', `${source}: column '${name}' has no values in the training rows`);
    if (numeric) return { name, kind: 'numeric', impute: sum / n };
    const idLike = counts.size >= ID_LIKE_ROWS && [...counts.values()].every((c) => c === 1);
    if (counts.size > MAX_CATEGORIES || idLike)
      throw new VergeError(
        'E_DATA_INVALID',
        `${source}: column '${name}' has ${counts.size} distinct text values${idLike ? ' (every row differs)' : ''}; leave it out with --drop-columns ${name} (an id?) or read it as text (--text-column ${name})`,
      );
    let impute = '';
    let best = -1;
    for (const [k, c] of counts) if (c > best || (c === best && k < impute)) [impute, best] = [k, c];
    return { name, kind: 'categorical', categories: [...counts.keys()].sort(), encoding, impute };
  });
}

export interface RowIssues {
  missing: boolean;
  infinite: boolean;
  /** Column of a category the encoder has not seen (encoded as all zeros / the imputed index). */
  unknownCategory?: string;
}

/**
 * Encode one row's features at `out[offset…]`. Missing entries are imputed (the caller drops the
 * row instead when asked to); the returned issues say what was found.
 */
export function encodeRow(
  row: readonly string[],
  indices: readonly number[],
  cols: readonly FeatureColumn[],
  out: Float32Array,
  offset: number,
): RowIssues {
  const issues: RowIssues = { missing: false, infinite: false };
  let o = offset;
  cols.forEach((c, k) => {
    const v = row[indices[k]!]!;
    const absent = isMissing(v) || isInfinite(v);
    if (absent) {
      issues.missing = true;
      if (isInfinite(v)) issues.infinite = true;
    }
    if (c.kind === 'numeric') {
      const x = absent ? undefined : parseNumber(v);
      if (x === undefined && !absent) issues.unknownCategory ??= c.name; // text in a numeric column
      out[o++] = x ?? c.impute;
      return;
    }
    let idx = c.categories.indexOf(absent ? c.impute : v);
    if (idx < 0) {
      issues.unknownCategory ??= c.name;
      if (c.encoding === 'index') idx = c.categories.indexOf(c.impute);
    }
    if (c.encoding === 'index') out[o++] = idx;
    else {
      out.fill(0, o, o + c.categories.length);
      if (idx >= 0) out[o + idx] = 1;
      o += c.categories.length;
    }
  });
  return issues;
}
