/**
 * The `--data` flags shared by every command that reads a dataset (data, train, eval): which
 * source to use and its format options, parsed into the registry's SourceOptions.
 */
import type { Command } from 'commander';
import type { SourceOptions } from '../data/sources/index.ts';
import { DATA_SOURCES } from '../data/sources/index.ts';

export interface DataFlags {
  format?: string;
}

/** Add the data-source flags to a command. */
export function addDataFlags(cmd: Command): Command {
  return cmd.option(
    '--format <source>',
    `read --data with this source instead of detecting it: ${DATA_SOURCES.map((s) => s.name).join(', ')}`,
  );
}

/** SourceOptions from parsed flags (undefined fields are left out, so unset flags never count as given). */
export function sourceOptionsFrom(flags: DataFlags): SourceOptions {
  return { ...(flags.format !== undefined ? { format: flags.format } : {}) };
}

/** The `--data` help text: what a dataset argument may be. */
export const DATA_HELP = 'dataset: a built-in name (fashion-mnist) or a path; `verge data --help` lists the formats';
