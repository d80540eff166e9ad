/**
 * Write a dataset of [1, H, W] float images in [0, 1] as `out/train/<class>/<i>.png` and
 * `out/test/<class>/<i>.png` (grayscale PNGs written by sharp), for the image-folder comparison.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Dataset, Split } from '../../src/data/dataset.ts';

/** PNGs encoded concurrently. */
const CONCURRENCY = 16;

async function writeSplit(split: Split, shape: number[], dir: string, names: string[]): Promise<void> {
  const [, h, w] = shape as [number, number, number];
  const per = h * w;
  for (const n of names) mkdirSync(join(dir, n), { recursive: true });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < split.count) {
      const i = next++;
      const px = Buffer.alloc(per);
      for (let k = 0; k < per; k++) px[k] = Math.round(split.x[i * per + k]! * 255);
      const name = String(i).padStart(5, '0');
      await sharp(px, { raw: { width: w, height: h, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toFile(join(dir, names[split.y[i]!]!, `${name}.png`));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** Class folder names: zero-padded label indices, so sorted names keep the label order. */
export function classFolderNames(classes: number): string[] {
  return Array.from({ length: classes }, (_, c) => String(c).padStart(2, '0'));
}

export async function writePngFolders(ds: Dataset, out: string): Promise<void> {
  if (ds.shape.length !== 3 || ds.shape[0] !== 1) throw new Error(`grayscale images expected, got [${ds.shape}]`);
  const names = classFolderNames(ds.classes);
  await writeSplit(ds.train, ds.shape, join(out, 'train'), names);
  await writeSplit(ds.test, ds.shape, join(out, 'test'), names);
}
