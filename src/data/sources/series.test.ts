import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../load-dataset.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-series-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An accelerometer-like recording: 100 rows at 50 Hz, walking then running, a gap in ax, rows shuffled. */
function recording(rows = 100): string {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const act = i < rows / 2 ? 'walk' : 'run';
    const ax = i === 10 ? '' : (Math.sin(i / 3) * (act === 'run' ? 2 : 1)).toFixed(3);
    lines.push(`${(i * 0.02).toFixed(2)},${ax},${(i % 5).toString()},${act}`);
  }
  lines.reverse(); // out of time order on purpose
  return ['time,ax,ay,activity', ...lines].join('\n') + '\n';
}

describe('series', () => {
  const file = join(tmp, 'imu.csv');
  writeFileSync(file, recording());

  it('windows one recording in time order, labels windows by majority, holds out the tail', async () => {
    const ds = await loadDataset(file, { window: 10, stride: 5, label: 'activity' });
    expect(ds.report?.format).toBe('series');
    expect([ds.shape, ds.classNames]).toEqual([
      [10, 2],
      ['run', 'walk'],
    ]);
    // rows 0..89 train → starts 0,5,…,80 (17 windows); rows 90..99 test → 1 window
    expect([ds.train.count, ds.test.count]).toEqual([17, 1]);
    expect(ds.report!.notes.join('\n')).toMatch(/not in time order; sorted by 'time'/);
    expect(ds.report!.read['filled values']).toBe(1);
    // window 1 = rows 5..14: ay = row % 5, ax at row 10 forward-filled from row 9
    expect(ds.train.x[1 * 20 + 1]).toBe(0);
    expect(ds.train.x[1 * 20 + 5 * 2]).toBeCloseTo(Math.sin(9 / 3), 3);
    expect(Array.from(ds.train.y.subarray(0, 2))).toEqual([1, 1]); // walk
    expect(ds.test.y[0]).toBe(0); // run
    expect(ds.preprocessing).toEqual({
      kind: 'series',
      features: ['ax', 'ay'],
      label: 'activity',
      time: 'time',
      window: 10,
      stride: 5,
    });
  });

  it('keeps windows inside recordings of a folder and splits train/ and test/', async () => {
    const dir = join(tmp, 'recordings');
    for (const part of ['train', 'test']) mkdirSync(join(dir, part), { recursive: true });
    writeFileSync(join(dir, 'train', 'a.csv'), recording(30));
    writeFileSync(join(dir, 'train', 'b.csv'), recording(30));
    writeFileSync(join(dir, 'test', 'c.csv'), recording(30));
    const ds = await loadDataset(dir, { window: 10, stride: 10, label: 'activity' });
    expect([ds.train.count, ds.test.count]).toEqual([6, 3]);
    const reg = await loadDataset(dir, {
      window: 10,
      stride: 10,
      label: 'ay',
      dropColumns: ['activity'],
      regression: true,
    });
    expect([reg.targetShape, Array.from(reg.train.targets!.subarray(0, 3))]).toEqual([[1], [4, 4, 4]]); // ay at rows 9, 19, 29
  });

  it('names the line of a non-numeric channel and an unknown time column', async () => {
    const bad = join(tmp, 'bad.csv');
    writeFileSync(bad, 'time,ax,label\n0,1,a\n1,oops,a\n');
    await expect(loadDataset(bad, { window: 2 })).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
      message: `${bad} line 3: channel 'ax' holds 'oops', not a number (--drop-columns ax to leave it out)`,
    });
    await expect(loadDataset(file, { window: 5, label: 'activity', timeColumn: 'when' })).rejects.toMatchObject({
      message: expect.stringMatching(/has no column 'when' \(--time-column\)/),
    });
  });
});
