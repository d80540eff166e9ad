/**
 * `verge label list|set` against a real control plane: items a real device uploaded are listed
 * unlabelled and hardest first, labelled from pairs and from a CSV file, and the labels are what
 * the cloud exports for training. Bad input (malformed pair, bad file line, unknown item, an item
 * of another model, a class the model does not have) fails with one line and a non-zero exit; a
 * refused pair changes nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeTensor } from '../../src/data/codecs/index.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import {
  EDGE_LOOP_PATHS,
  encodeUploadBatch,
  type CollectedItem,
  type UploadResponse,
} from '../../src/protocol/index.ts';
import { pool, secretFile, verge } from '../cli/cli.ts';
import { deviceUpload, startAgent, TestCloud } from './harness.ts';

/** Item ids and the device model's top-1 of each (the hardest is 'item-hard-0001'). */
const TOP1: Record<string, number> = {
  'item-easy-0001': 0.95,
  'item-hard-0001': 0.31,
  'item-mid0-0001': 0.55,
  'item-hard-0002': 0.42,
};

describe('verge label (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  let agent: EdgeAgent;
  let flags: string[];

  beforeAll(async () => {
    cloud = await TestCloud.start();
    agent = await startAgent(cloud, 'cam-label');
    flags = ['--cloud', cloud.url, '--api-key-file', secretFile(cloud.cp.adminKey)];
    // clf@1.0.0 in the registry: a 10-class classifier, so labels 10 and up are not its classes
    await cloud.publish('clf', '1.0.0', readFileSync('test/fixtures/models/seed_cnn_fmnist.onnx'));
    const frame = (await encodeTensor('lossless', { dims: [1, 4], data: Float32Array.of(0, 0.25, 0.5, 1) })).frame;
    const meta = (id: string, model: string, top1: number) => ({
      id,
      model: { name: model, version: '1.0.0' },
      deployment_id: null,
      input: 'input',
      created_at: Date.now(),
      reason: 'top1' as const,
      predicted: 3,
      top1,
      margin: top1 / 2,
      entropy: 1,
      cloud_predicted: null,
    });
    const items = [
      ...Object.entries(TOP1).map(([id, p]) => ({ meta: meta(id, 'clf', p), frame })),
      { meta: meta('item-othr-0001', 'other', 0.2), frame },
    ];
    const res = await deviceUpload(cloud.url, agent, encodeUploadBatch(items));
    expect(res.status).toBe(200);
    expect(((await res.json()) as UploadResponse).accepted).toHaveLength(5);
  }, 60_000);
  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await cloud?.close();
  });

  const cloudLabels = async () =>
    Object.fromEntries(
      (await cloud.admin.get<{ items: CollectedItem[] }>(`${EDGE_LOOP_PATHS.items}?limit=100`)).items.map((i) => [
        i.id,
        [i.label, i.label_source],
      ]),
    );

  it('lists unlabelled items hardest first, labels from pairs and a CSV file', async () => {
    const dev = agent.deviceId;
    const listed = await verge(['label', 'list', 'clf', '--unlabelled', '--hard', '--json', ...flags]);
    expect(listed.code, listed.stderr).toBe(0);
    const page = JSON.parse(listed.stdout) as { items: CollectedItem[]; total: number };
    expect(page.total).toBe(4);
    expect(page.items.map((i) => i.id)).toEqual([
      'item-hard-0001',
      'item-hard-0002',
      'item-mid0-0001',
      'item-easy-0001',
    ]);

    const csv = join(cloud.dataDir, 'labels.csv');
    writeFileSync(csv, `device_id,id,label\n${dev},item-mid0-0001,7\n\n${dev},item-easy-0001, 2\n`);
    const set = await verge([
      'label',
      'set',
      'clf',
      `${dev}/item-hard-0001=5`,
      `${dev}/item-hard-0002=0`,
      '--file',
      csv,
      ...flags,
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain("labelled 4 item(s) of 'clf'");
    expect(await cloudLabels()).toEqual({
      'item-hard-0001': [5, 'operator'],
      'item-hard-0002': [0, 'operator'],
      'item-mid0-0001': [7, 'operator'],
      'item-easy-0001': [2, 'operator'],
      'item-othr-0001': [null, null],
    });

    const [human, none] = await pool(
      [
        ['label', 'list', 'clf', '--hard', '--limit', '2', ...flags],
        ['label', 'list', 'clf', '--unlabelled', ...flags],
      ],
      2,
      (a) => verge(a),
    );
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`${dev}/item-hard-0001 .* 0\\.310 .* 5 \\(operator\\)`));
    expect(human.stdout).toContain('1-2 of 4');
    expect(none.stdout).toContain("no unlabelled collected items of 'clf'");
  }, 600_000); // CLI starts: ~300 s at load 30 on 2 cores

  it('bad input: one line, non-zero exit, nothing changed by a refused command', async () => {
    const dev = agent.deviceId;
    const before = await cloudLabels();
    const badCsv = join(cloud.dataDir, 'bad.csv');
    writeFileSync(badCsv, `${dev},item-hard-0001,1\n${dev},item-hard-0002\n`);
    const runs = await pool(
      [
        ['label', 'set', 'clf', `${dev}/item-hard-0001`, ...flags], // no =class
        ['label', 'set', 'clf', `${dev}/item-hard-0001=-1`, ...flags],
        ['label', 'set', 'clf', '--file', badCsv, ...flags],
        [
          'label',
          'set',
          'clf',
          `${dev}/item-hard-0001=1`,
          `${dev}/item-othr-0001=1`,
          `${dev}/item-none-0001=1`,
          ...flags,
        ],
        ['label', 'set', 'clf', ...flags],
        ['label', 'set', 'clf', `${dev}/item-hard-0002=3`, `${dev}/item-hard-0001=10`, ...flags],
      ],
      2,
      (a) => verge(a),
    );
    for (const r of runs) {
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(runs[0]!.stderr).toMatch(/expected <device id>\/<item id>=<class>/);
    expect(runs[1]!.stderr).toMatch(/the label must be a class index/);
    expect(runs[2]!.stderr).toMatch(/bad\.csv:2: expected device_id,id,label, got 2 field/);
    expect(runs[3]!.stderr).toMatch(
      new RegExp(
        `2 of 3 item\\(s\\) are not collected items of 'clf'.*${dev}/item-othr-0001, ${dev}/item-none-0001.*the other 1 are labelled`,
      ),
    );
    expect(runs[4]!.stderr).toMatch(/no labels given/);
    expect(runs[5]!.stderr).toContain(
      `${dev}/item-hard-0001: label 10 is not a class of clf@1.0.0 (classes 0-9); nothing labelled`,
    );
    // the API refuses it the same way (400), whoever calls it
    await expect(
      cloud.admin.post(EDGE_LOOP_PATHS.labels, { labels: [{ device_id: dev, id: 'item-easy-0001', label: 12 }] }),
    ).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' });
    // the refused commands changed nothing, the partly-known one labelled only its clf item
    expect(await cloudLabels()).toEqual({ ...before, 'item-hard-0001': [1, 'operator'] });
  }, 600_000); // CLI starts: ~300 s at load 30 on 2 cores
});
