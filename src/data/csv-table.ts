/**
 * CSV text → a header and rows of strings (csv-parse; quoting, BOM, CRLF handled there). The
 * delimiter (comma, semicolon or tab) is sniffed from the header line. A ragged row (more or
 * fewer fields than the header) is an error naming its line. Pure: sources read the file.
 */
import { parse } from 'csv-parse/sync';
import { VergeError } from '../errors.ts';

/** Largest CSV read into memory. */
export const MAX_CSV_BYTES = 512 * 1024 * 1024;

export interface CsvTable {
  /** Where the text came from, for messages. */
  source: string;
  header: string[];
  rows: string[][];
}

/** Values read as missing (compared lower-case, after trimming). */
const MISSING_VALUES = new Set(['', 'na', 'n/a', 'nan', 'null', 'none', '?']);

export function isMissing(v: string): boolean {
  return MISSING_VALUES.has(v.toLowerCase());
}

function sniffDelimiter(text: string): string {
  const firstLine = text.slice(0, Math.max(0, text.indexOf('\n')) || text.length);
  let best = ',';
  let most = 0;
  for (const d of [',', ';', '\t']) {
    const n = firstLine.split(d).length - 1;
    if (n > most) [best, most] = [d, n];
  }
  return best;
}

/** Parse CSV text with a header line. */
export function parseCsv(text: string, source: string): CsvTable {
  if (text.length > MAX_CSV_BYTES)
    throw new VergeError('E_DATA_INVALID', `${source} is larger than ${MAX_CSV_BYTES / 1024 ** 2} MiB`);
  let records: string[][];
  try {
    records = parse(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      delimiter: sniffDelimiter(text),
    }) as string[][];
  } catch (e) {
    const err = e as { code?: string; message: string; lines?: number };
    if (err.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
      const m = /expect (\d+), got (\d+)/.exec(err.message);
      throw new VergeError(
        'E_DATA_INVALID',
        `${source} line ${err.lines}: ${m ? `${m[2]} fields, but the header has ${m[1]}` : err.message} (a ragged CSV row)`,
      );
    }
    throw new VergeError('E_DATA_INVALID', `${source} is not valid CSV: ${err.message}`);
  }
  if (records.length === 0) throw new VergeError('E_DATA_INVALID', `${source} is empty (a CSV needs a header line)`);
  const header = records[0]!;
  const seen = new Set<string>();
  for (const h of header) {
    if (h === '') throw new VergeError('E_DATA_INVALID', `${source}: the header has an empty column name`);
    if (seen.has(h)) throw new VergeError('E_DATA_INVALID', `${source}: column '${h}' appears twice in the header`);
    seen.add(h);
  }
  return { source, header, rows: records.slice(1) };
}

/** Index of a named column, or a clear error listing the columns there are. */
export function columnIndex(t: CsvTable, name: string, flag: string): number {
  const i = t.header.indexOf(name);
  if (i < 0) {
    const cols = t.header.slice(0, 20).join(', ') + (t.header.length > 20 ? ', …' : '');
    throw new VergeError('E_DATA_INVALID', `${t.source} has no column '${name}' (${flag}); its columns: ${cols}`);
  }
  return i;
}

/** A finite number from a CSV field, or undefined (not a number, NaN or ±Infinity: callers treat it as missing). */
export function parseNumber(v: string): number | undefined {
  if (v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** True for fields spelling an infinity ('inf', '-Infinity'): reported apart from plain missing values. */
export function isInfinite(v: string): boolean {
  return /^[-+]?inf(inity)?$/i.test(v);
}
