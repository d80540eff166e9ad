/**
 * An agent serving models verge built for images, tables, sensor series and texts answers raw
 * requests (a PNG/JPEG body, CSV rows, a text) over a real socket: the same scores as running the
 * model on the input the library prepares from the same raw data, plus named top classes.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/data/dataset.ts';
import { loadDataset } from '../../src/data/load-dataset.ts';
import { withDataInfo, type DataInfo } from '../../src/data/preprocessing.ts';
import { csvInput, imageInput, textInput } from '../../src/data/raw-input.ts';
import { InferenceStats } from '../../src/edge/inference-stats.ts';
import { buildLocalApi } from '../../src/edge/local-api.ts';
import { ServedModels, loadModelBytes } from '../../src/edge/served-models.ts';
import { buildArchitecture } from '../../src/nn/architectures.ts';
import { encodeModel } from '../../src/onnx/codec.ts';
import { Session, type TensorValue } from '../../src/runtime/index.ts';
import { writeDataFiles, type DataFiles } from '../fixtures/data-files.ts';
import { sha256 } from './models.ts';

const tmp = mkdtempSync(join(tmpdir(), 'verge-raw-agent-'));
const served = new ServedModels();
const api = buildLocalApi({ served, stats: new InferenceStats() });
let url = '';
let files: DataFiles;
const infos: Record<string, DataInfo> = {};
const bytesOf: Record<string, Uint8Array> = {};

function infoOf(ds: Dataset): DataInfo {
  return {
    ...(ds.preprocessing ? { preprocessing: ds.preprocessing } : {}),
    ...(ds.classNames ? { classNames: ds.classNames } : {}),
  };
}

async function serve(name: string, arch: string, ds: Dataset): Promise<void> {
  infos[name] = infoOf(ds);
  const model = withDataInfo(
    buildArchitecture(arch, {
      inputShape: ds.shape,
      classes: ds.classes,
      seed: 1,
      ...(ds.vocabSize ? { vocabSize: ds.vocabSize } : {}),
    }),
    infos[name]!,
  );
  const bytes = encodeModel(model);
  bytesOf[name] = bytes;
  served.swap(
    await loadModelBytes({ name, version: '1.0.0', variant: 'fp32', sha256: sha256(bytes) }, bytes, { threads: 1 }),
  );
}

/** The first output of `name` on `input`, run directly on onnxruntime. */
async function direct(name: string, input: TensorValue): Promise<number[]> {
  const s = await Session.create(bytesOf[name]!, { threads: 1 });
  const out = await s.run({ input });
  await s.release();
  return Array.from(Object.values(out)[0]!.data as Float32Array);
}

interface Answer {
  outputs: Record<string, { dims: number[]; data: number[] }>;
  predictions?: { label?: string; probability?: number; top?: { label?: string; probability: number }[] }[];
  error?: { code: string; message: string };
}

async function post(
  model: string,
  contentType: string,
  body: Uint8Array | string,
): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${url}/v1/models/${model}:predict`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: res.status, body: (await res.json()) as Answer };
}

function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-5));
}

describe('agent predict on raw data', { timeout: 180_000 }, () => {
  beforeAll(async () => {
    files = await writeDataFiles(tmp);
    await serve('shades', 'mlp', await loadDataset(files.pngFolder));
    await serve('colours', 'cnn', await loadDataset(files.jpegFolder));
    await serve('sizes', 'mlp', await loadDataset(files.tableFolder, { dropColumns: ['id'] }));
    await serve('motion', 'gru', await loadDataset(files.sensorCsv, { window: 20, stride: 10, label: 'activity' }));
    await serve('topics', 'text-cnn', await loadDataset(files.textFolder));
    url = await api.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await api.close();
    await served.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('answers a PNG and a JPEG body with the scores of the prepared image and named classes', async () => {
    for (const [model, file, type] of [
      ['shades', join(files.pngFolder, 'dark', 'dark-1.png'), 'image/png'],
      ['colours', join(files.jpegFolder, 'test', 'red', 'red-0.jpg'), 'image/jpeg'],
    ] as const) {
      const bytes = readFileSync(file);
      const r = await post(model, type, bytes);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      const want = await direct(model, await imageInput(infos[model], { name: 'input' }, bytes, file));
      expectClose(r.body.outputs.logits!.data, want);
      expect(r.body.predictions).toHaveLength(1);
      expect(infos[model]!.classNames).toContain(r.body.predictions![0]!.label);
      expect(r.body.predictions![0]!.top!.map((c) => c.label).sort()).toEqual([...infos[model]!.classNames!].sort());
    }
  });

  it('answers CSV rows for a table model and a sensor series for a window model', async () => {
    const table = readFileSync(join(files.tableFolder, 'test.csv'), 'utf8');
    const r = await post('sizes', 'text/csv', table);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expectClose(r.body.outputs.logits!.data, await direct('sizes', csvInput(infos.sizes, table, 'test.csv')));
    expect(r.body.predictions).toHaveLength(30);
    const series = readFileSync(files.sensorCsv, 'utf8').split('\n').slice(0, 61).join('\n');
    const s = await post('motion', 'text/csv; charset=utf-8', series);
    expect(s.status, JSON.stringify(s.body)).toBe(200);
    expect(s.body.outputs.logits!.dims).toEqual([5, 2]);
    expectClose(s.body.outputs.logits!.data, await direct('motion', csvInput(infos.motion, series, 'rows')));
  });

  it('answers a text body with the scores of its token ids', async () => {
    const text = 'The goal and the team, then score! A match.';
    const r = await post('topics', 'text/plain; charset=utf-8', text);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expectClose(r.body.outputs.logits!.data, await direct('topics', textInput(infos.topics, [text])));
    expect(['food', 'sports']).toContain(r.body.predictions![0]!.label);
  });

  it('refuses a corrupt image, the wrong kind of data and bad rows with one error object', async () => {
    const cases: [string, string, string | Uint8Array, number, string, RegExp][] = [
      [
        'shades',
        'image/png',
        new TextEncoder().encode('not a png'),
        400,
        'E_DATA_INVALID',
        /image\/png body is not a readable/,
      ],
      ['shades', 'text/plain', 'hello', 400, 'E_BAD_ARGUMENT', /trained on image data, not text/],
      [
        'topics',
        'image/png',
        readFileSync(join(files.pngFolder, 'dark', 'dark-1.png')),
        400,
        'E_BAD_ARGUMENT',
        /trained on text data, not images/,
      ],
      ['sizes', 'text/csv', 'size,weight\n1,2\n', 400, 'E_DATA_INVALID', /has no column 'colour'/],
      ['sizes', 'text/csv', 'size,colour,weight\n1,red\n', 400, 'E_DATA_INVALID', /ragged CSV row/],
      ['motion', 'text/csv', 'time,ax,ay\n0,1,2\n', 400, 'E_DATA_INVALID', /windows of 20 rows/],
      ['topics', 'text/plain', '   ', 400, 'E_BAD_ARGUMENT', /body is empty/],
    ];
    for (const [model, type, body, status, code, message] of cases) {
      const r = await post(model, type, body);
      expect([r.status, r.body.error?.code], `${model} ${type}`).toEqual([status, code]);
      expect(r.body.error!.message).toMatch(message);
    }
  });
});
