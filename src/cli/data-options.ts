/**
 * The `--data` flags shared by every command that reads a dataset (data, train, eval): which
 * source to use and its format options, parsed into the registry's SourceOptions. Light (used by
 * declarations): the source list comes from the data-only catalog, not the readers.
 */
import type { Command } from 'commander';
import { VergeError } from '../errors.ts';
import type { SourceOptions } from '../data/sources/source.ts';
import { SOURCE_CATALOG } from '../data/sources/catalog.ts';

export interface DataFlags {
  format?: string;
  speakers?: string;
  repeats?: string;
}

/** Add the data-source flags to a command. */
export function addDataFlags(cmd: Command): Command {
  return cmd
    .option(
      '--format <source>',
      `read --data with this source instead of detecting it: ${SOURCE_CATALOG.map((s) => s.name).join(', ')}`,
    )
    .option('--speakers <n>', 'speech-digits: synthetic speakers (espeak-ng voice variants, default 100)')
    .option('--repeats <n>', 'speech-digits: renditions of each digit per speaker (default 3)');
}

function countFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || n < 1)
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be a positive integer, got '${value}'`);
  return n;
}

/** SourceOptions from parsed flags (undefined fields are left out, so unset flags never count as given). */
export function sourceOptionsFrom(flags: DataFlags): SourceOptions {
  const speakers = countFlag('--speakers', flags.speakers);
  const repeats = countFlag('--repeats', flags.repeats);
  return {
    ...(flags.format !== undefined ? { format: flags.format } : {}),
    ...(speakers !== undefined ? { speakers } : {}),
    ...(repeats !== undefined ? { repeats } : {}),
  };
}

/** The formats, one per line, for a command's help. */
export function formatsHelp(): string {
  return `\nFormats (--format NAME to force one):\n${SOURCE_CATALOG.map((s) => `  ${s.name.padEnd(14)} ${s.summary}`).join('\n')}`;
}

/** The `--data` help text: what a dataset argument may be. */
export const DATA_HELP = 'dataset: a built-in name (fashion-mnist) or a path; `verge data --help` lists the formats';
