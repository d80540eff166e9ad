/**
 * Class folders of text files: `root/<class>/*.txt` (UTF-8), optionally under train/ and test/;
 * one file is one sample. Tokenized into int64 ids (text-dataset.ts: --tokenizer word|char|bpe,
 * --vocab-size, --max-length). Empty or undecodable files are skipped and reported.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { VergeError } from '../../errors.ts';
import { hasClassFiles, listClassFolders, mixedOrder, type ClassFile } from '../class-folders.ts';
import type { Dataset } from '../dataset.ts';
import { tokenizeTexts, type LabelledTexts } from '../text-dataset.ts';
import { SourceLog, type DataSource } from './source.ts';
import { sourceSummary } from './catalog.ts';

const TEXT_EXTENSIONS = ['.txt'];
/** Largest text file read (bytes); longer files are cut to this before tokenizing anyway. */
export const MAX_TEXT_FILE_BYTES = 4 * 1024 * 1024;

function readTexts(files: ClassFile[], log: SourceLog): LabelledTexts {
  const texts: string[] = [];
  const labels: number[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const f of files) {
    let text: string;
    try {
      const bytes = readFileSync(f.path);
      if (bytes.length > MAX_TEXT_FILE_BYTES) {
        log.skip(`larger than ${MAX_TEXT_FILE_BYTES / 1024 ** 2} MiB`, f.rel);
        continue;
      }
      text = decoder.decode(bytes);
    } catch {
      log.skip('unreadable or not UTF-8', f.rel);
      continue;
    }
    if (text.trim() === '') {
      log.skip('empty text', f.rel);
      continue;
    }
    texts.push(text);
    labels.push(f.label);
  }
  log.read('files', files.length);
  return { texts, labels: Int32Array.from(labels) };
}

export const textFolder: DataSource = {
  name: 'text-folder',
  summary: sourceSummary('text-folder'),
  options: ['tokenizer', 'vocabSize', 'maxLength'],
  claims: (t) => hasClassFiles(t, TEXT_EXTENSIONS),
  load: async (t, opts): Promise<Dataset> => {
    const log = new SourceLog('text-folder');
    const folders = listClassFolders(t, TEXT_EXTENSIONS, log, opts.classNames);
    const train = readTexts(mixedOrder(folders.train, opts.limits?.train), log);
    const test = readTexts(mixedOrder(folders.test, opts.limits?.test), log);
    if (train.texts.length === 0) throw new VergeError('E_DATA_INVALID', `${t.spec}: no readable training text`);
    const tok = tokenizeTexts(train, test, opts, log);
    log.read('samples', tok.train.count + tok.test.count);
    return {
      name: basename(t.path!),
      source: t.path!,
      shape: [tok.preprocessing.length],
      inputDtype: 'int64',
      vocabSize: tok.preprocessing.tokenizer.vocab.length,
      classes: folders.classes.length,
      classNames: folders.classes,
      train: tok.train,
      test: tok.test,
      preprocessing: tok.preprocessing,
      report: log.report(),
    };
  },
};
