/**
 * Write a dataset of [1, H, W] float images in [0, 1] as `out/train/<class>/<i>.png` and
 * `out/test/<class>/<i>.png` (grayscale PNGs written by sharp), for the image-folder comparison.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Dataset, Split } from '../../src/data/dataset.ts';
import { encodeIdx } from '../../src/data/idx.ts';

/** PNGs encoded concurrently. */
const CONCURRENCY = 16;

/** Sample i's pixels in [0, 1] as bytes. */
function sampleBytes(split: Split, per: number, i: number): Buffer {
  const px = Buffer.alloc(per);
  for (let k = 0; k < per; k++) px[k] = Math.round(split.x[i * per + k]! * 255);
  return px;
}

async function writeSplit(split: Split, shape: number[], dir: string, names: string[]): Promise<void> {
  const [, h, w] = shape as [number, number, number];
  const per = h * w;
  for (const n of names) mkdirSync(join(dir, n), { recursive: true });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < split.count) {
      const i = next++;
      const px = sampleBytes(split, per, i);
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

/** A sample's label and pixels as bytes (what a PNG holds: x·255 rounds back exactly). */
function sampleKey(split: Split, per: number, i: number): string {
  return `${split.y[i]}:${sampleBytes(split, per, i).toString('base64')}`;
}

/**
 * Where each sample of `b` sits in `a` (b[k] equals a[order[k]], label and every pixel byte), or
 * undefined when the two splits do not hold the same samples. Duplicates pair up in order.
 */
export function matchSamples(a: Split, b: Split, per: number): Int32Array | undefined {
  if (a.count !== b.count) return undefined;
  const at = new Map<string, number[]>();
  for (let i = 0; i < a.count; i++) {
    const key = sampleKey(a, per, i);
    at.set(key, [...(at.get(key) ?? []), i]);
  }
  const order = new Int32Array(b.count);
  for (let k = 0; k < b.count; k++) {
    const i = at.get(sampleKey(b, per, k))?.shift();
    if (i === undefined) return undefined;
    order[k] = i;
  }
  return order;
}

/** Write `split`'s samples in `order` as an uncompressed IDX images/labels pair `<prefix>-…-ubyte` in `dir`. */
export function writeIdxPair(split: Split, shape: number[], order: Int32Array, dir: string, prefix: string): void {
  const [, h, w] = shape as [number, number, number];
  const per = h * w;
  const px = new Uint8Array(order.length * per);
  const labels = new Uint8Array(order.length);
  order.forEach((i, k) => {
    px.set(sampleBytes(split, per, i), k * per);
    labels[k] = split.y[i]!;
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx([order.length, h, w], px));
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx([order.length], labels));
}
