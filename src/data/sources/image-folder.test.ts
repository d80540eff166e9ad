import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../load-dataset.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-images-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A grayscale PNG whose every pixel is `v`. */
function grayPng(path: string, v: number, size = 8): Promise<unknown> {
  return sharp(Buffer.alloc(size * size, v), { raw: { width: size, height: size, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(path);
}

/** An RGB JPEG of one colour. */
function rgbJpeg(path: string, rgb: [number, number, number], size = 6): Promise<unknown> {
  const px = Buffer.alloc(size * size * 3);
  for (let i = 0; i < size * size; i++) px.set(rgb, i * 3);
  return sharp(px, { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 95 })
    .toFile(path);
}

const flat = join(tmp, 'flat');
const split = join(tmp, 'split');
beforeAll(async () => {
  const writes: Promise<unknown>[] = [];
  ['circle', 'square', 'star'].forEach((c, k) => {
    mkdirSync(join(flat, c), { recursive: true });
    for (let i = 0; i < 12; i++) writes.push(grayPng(join(flat, c, `${i}.png`), 40 + 80 * k));
  });
  writeFileSync(join(flat, 'square', 'broken.png'), 'not a png at all');
  writeFileSync(join(flat, 'star', 'readme.txt'), 'notes');
  for (const [part, n] of [
    ['train', 4],
    ['test', 2],
  ] as const) {
    for (const [c, rgb] of [
      ['red', [250, 0, 0]],
      ['blue', [0, 0, 250]],
    ] as const) {
      mkdirSync(join(split, part, c), { recursive: true });
      for (let i = 0; i < n; i++) writes.push(rgbJpeg(join(split, part, c, `${c}${i}.jpg`), [...rgb]));
    }
  }
  await Promise.all(writes);
});

describe('image-folder', () => {
  it('reads grayscale PNG class folders, skips and reports a corrupt file, splits by path hash', async () => {
    const ds = await loadDataset(flat);
    expect(ds.report?.format).toBe('image-folder');
    expect([ds.shape, ds.classes, ds.classNames]).toEqual([[1, 8, 8], 3, ['circle', 'square', 'star']]);
    expect(ds.train.count + ds.test.count).toBe(36);
    expect(ds.test.count).toBeGreaterThan(0);
    expect(ds.preprocessing).toEqual({ kind: 'image', channels: 1, height: 8, width: 8 });
    const corrupt = ds.report!.skipped.find((s) => s.reason === 'corrupt or unreadable image');
    expect(corrupt).toEqual({ reason: 'corrupt or unreadable image', count: 1, examples: ['square/broken.png'] });
    expect(ds.report!.skipped.find((s) => s.reason.startsWith('not a'))?.examples).toEqual(['star/readme.txt']);
    expect(ds.report!.notes.join('\n')).toMatch(/first unreadable image: square\/broken.png: /);
    for (let i = 0; i < ds.train.count; i++) {
      expect(ds.train.x[i * 64 + 10]).toBeCloseTo((40 + 80 * ds.train.y[i]!) / 255, 6);
    }
  });

  it('reads RGB JPEGs under train/ and test/, resizes on request, and caches decoded pixels', async () => {
    const cacheDir = join(tmp, 'cache');
    const opts = { imageSize: [4, 4] as [number, number], cacheDir };
    const ds = await loadDataset(split, opts);
    expect([ds.shape, ds.classNames, ds.train.count, ds.test.count]).toEqual([[3, 4, 4], ['blue', 'red'], 8, 4]);
    const red = Array.from(ds.train.y).indexOf(1);
    // planar: red plane first, then green, then blue (JPEG is lossy: within a few levels)
    expect(ds.train.x[red * 48]).toBeGreaterThan(0.9);
    expect(ds.train.x[red * 48 + 32]).toBeLessThan(0.1);
    expect(ds.report!.read.decoded).toBe(12);
    const again = await loadDataset(split, opts);
    expect(again.report!.read.cached).toBe(12);
    expect(again.report!.read.decoded).toBeUndefined();
    expect(Array.from(again.train.x)).toEqual(Array.from(ds.train.x));
  });

  it("maps folders onto a trained model's classes and rejects empty or unknown classes", async () => {
    const known = await loadDataset(split, { classNames: ['red', 'blue'] });
    expect(known.classNames).toEqual(['red', 'blue']);
    expect(known.train.x[Array.from(known.train.y).indexOf(0) * 108]).toBeGreaterThan(0.9); // label 0 = red
    await expect(loadDataset(split, { classNames: ['red', 'green'] })).rejects.toMatchObject({
      code: 'E_DATA_INVALID',
      message: expect.stringMatching(/class folder 'blue' is not one of the model's classes/),
    });
    mkdirSync(join(split, 'train', 'green'));
    try {
      await expect(loadDataset(split)).rejects.toMatchObject({
        code: 'E_DATA_INVALID',
        message: 'class folder train/green holds no .png/.jpg/.jpeg/.webp files (train); remove it or add samples',
      });
    } finally {
      rmSync(join(split, 'train', 'green'), { recursive: true });
    }
  });
});
