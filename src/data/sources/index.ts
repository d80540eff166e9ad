/**
 * Registry of data sources: one file per format (STYLE.md). Adding a format = adding a file, a
 * line here and a test beside the file (sources.test.ts checks). Detection asks each source in
 * this order, so specific layouts come before general ones.
 */
import { deepFreeze } from '../../frozen.ts';
import type { DataSource } from './source.ts';
import { csv } from './csv.ts';
import { debianDescriptions } from './debian-descriptions.ts';
import { fashionMnist } from './fashion-mnist.ts';
import { idx } from './idx.ts';
import { imageFolder } from './image-folder.ts';
import { npyFolder } from './npy-folder.ts';
import { npz } from './npz.ts';
import { series } from './series.ts';
import { speechDigits } from './speech-digits.ts';
import { textCsv } from './text-csv.ts';
import { textFolder } from './text-folder.ts';
import { wavFolder } from './wav-folder.ts';

export const DATA_SOURCES: readonly DataSource[] = deepFreeze([
  fashionMnist,
  speechDigits,
  debianDescriptions,
  idx,
  npyFolder,
  npz,
  wavFolder,
  imageFolder,
  textFolder,
  series,
  textCsv,
  csv,
]);

export function dataSource(name: string): DataSource | undefined {
  return DATA_SOURCES.find((s) => s.name === name);
}

/** Built-in dataset names (`--data fashion-mnist`). */
export function builtinDatasetNames(): string[] {
  return DATA_SOURCES.flatMap((s) => s.names ?? []);
}

export type { DataSource, DataTarget, FormatOption, SourceOptions } from './source.ts';
export { HOLDOUT_FRACTION, MAX_CLASSES, MAX_SKIP_EXAMPLES, SourceLog, holdOutTail } from './source.ts';
