/** `verge codec list`: the uplink codec registry (src/data/codecs). */
import { CODECS } from '../../data/browser.ts';
import { emit, table } from '../output.ts';

export default function codecList(opts: { json?: boolean }): void {
  const codecs = Object.values(CODECS).map((c) => ({
    name: c.name,
    lossy: c.lossy,
    summary: c.summary,
    option: c.option ?? null,
  }));
  emit(opts, { codecs }, () =>
    table(
      ['codec', 'lossy', 'option', 'what it does'],
      codecs.map((c) => [c.name, c.lossy ? 'yes' : 'no', c.option ?? '-', c.summary]),
    ),
  );
}
