/** An .npz archive holding arrays x and y (optionally x_test and y_test), as numpy.savez writes them. */
import { basename } from 'node:path';
import { VergeError } from '../../errors.ts';
import { readNpz } from '../npz.ts';
import { datasetFromArrays } from './npy-folder.ts';
import { SourceLog, type DataSource } from './source.ts';
import { sourceSummary } from './catalog.ts';

export const npz: DataSource = {
  name: 'npz',
  summary: sourceSummary('npz'),
  claims: (t) => !t.isDir && t.ext === '.npz',
  load: async (t) => {
    const all = readNpz(t.path!);
    for (const need of ['x', 'y']) {
      if (!all[need])
        throw new VergeError(
          'E_DATA_NOT_FOUND',
          `${t.spec} has no array '${need}' (it holds ${Object.keys(all).join(', ') || 'nothing'})`,
        );
    }
    const log = new SourceLog('npz');
    log.read('files');
    return datasetFromArrays((name) => all[name], t.path!, basename(t.path!).replace(/\.npz$/i, ''), log);
  },
};
