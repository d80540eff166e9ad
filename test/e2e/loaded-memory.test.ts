/**
 * A variant's measured loaded memory travels end to end and decides where it runs: `verge model
 * publish` measures it (onnxruntime in a child process), the registry keeps it with the artifact
 * and sends it with the variant in the deploy message, and the agent checks it against its memory
 * budget (25% of memory_mb). The estimate from the file size (SESSION_MEMORY_FACTOR × bytes) is
 * used only for a variant published without a measurement (`--no-loaded-memory`).
 *
 * Two models whose measurement and estimate fall on opposite sides of a device's budget:
 * - 4-bit weights of the seed CNN: a small file that onnxruntime rebuilds dense when it loads it
 *   (loads far larger than its estimate) — refused by a device whose budget lies between the two;
 * - a bag-of-words text classifier (an EmbeddingBag of 20,000 × 64, like `--arch text-bow`): a large
 *   file whose embedding table onnxruntime does not pre-pack (it loads at ~2× its file, not 3×) —
 *   served by a device whose budget lies between the two.
 * Each is also published again without the measurement, and the same device then decides the other
 * way: what the agent did before this measurement reached it. Real control plane (embedded broker
 * and SQLite, and PostgreSQL when it runs), real agents, the CLI as a user runs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dense, EmbeddingBag, Sequential } from '../../src/nn/index.ts';
import { loadModel, saveModel } from '../../src/onnx/io.ts';
import { quantizeWeightBits } from '../../src/optimize/quantize/weight-bits.ts';
import { estimatedMemoryMb } from '../../src/edge/variant-choice.ts';
import { parseProfileSpec } from '../../src/edge/profile.ts';
import { MODEL_MEMORY_SHARE, type ModelVersion } from '../../src/protocol/index.ts';
import { secretFile, verge } from '../cli/cli.ts';
import { dropSchema, PG_URL, postgresAvailable, uniqueSchema } from '../cloud/services.ts';
import { fixturePath } from '../fixtures/index.ts';
import { startAgent, TestCloud } from './harness.ts';

const MB = 2 ** 20;
const pgSkip = await postgresAvailable();
if (pgSkip && process.env.CI === 'true') throw new Error(`required service missing under CI: ${pgSkip}`);

const dir = mkdtempSync(join(tmpdir(), 'verge-loaded-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The two models, and a copy of each that differs only in its doc string: another artifact (the
 * registry keeps a measurement with the artifact's sha256), the same memory.
 */
function writeModels(): Record<'bits' | 'bow' | 'bitsCopy' | 'bowCopy', string> {
  const bits = quantizeWeightBits(loadModel(fixturePath('seed_cnn_fmnist')), { bits: 4 }).model;
  const bow = new Sequential([32], [new EmbeddingBag({ vocab: 20_000, dim: 64 }), new Dense(10)], {
    dtype: 'int64',
  }).build({ seed: 0 });
  const paths = {
    bits: join(dir, 'seed-w4.onnx'),
    bow: join(dir, 'bow.onnx'),
    bitsCopy: join(dir, 'seed-w4-copy.onnx'),
    bowCopy: join(dir, 'bow-copy.onnx'),
  };
  saveModel(bits, paths.bits);
  saveModel(bow, paths.bow);
  saveModel({ ...bits, docString: 'another artifact' }, paths.bitsCopy);
  saveModel({ ...bow, docString: 'another artifact' }, paths.bowCopy);
  return paths;
}
const files = writeModels();

/** A budget (MB) halfway between two figures, as the device memory that gives it (integer MB). */
function memoryFor(lowMb: number, highMb: number): number {
  const memory = Math.round((lowMb + highMb) / 2 / MODEL_MEMORY_SHARE);
  const budget = memory * MODEL_MEMORY_SHARE;
  expect(budget, `a device budget between ${lowMb.toFixed(2)} and ${highMb.toFixed(2)} MB`).toBeGreaterThan(lowMb);
  expect(budget).toBeLessThan(highMb);
  return memory;
}

const BACKENDS = [
  { name: 'embedded broker + SQLite', pg: false },
  { name: 'embedded broker + PostgreSQL', pg: true },
];

describe.each(BACKENDS)('the measured loaded memory decides on the device ($name)', ({ pg }) => {
  const skip = pg ? pgSkip : null;
  let cloud: TestCloud;
  let schema = '';
  let env: Record<string, string> = {};

  beforeAll(async () => {
    if (skip) return;
    schema = pg ? uniqueSchema() : '';
    cloud = await TestCloud.start(pg ? { db: PG_URL, pgSchema: schema } : {});
    env = { VERGE_CLOUD: cloud.url };
  }, 60_000);
  afterAll(async () => {
    if (skip) return;
    await cloud?.close();
    if (pg) await dropSchema(schema).catch(() => undefined);
  });

  async function publish(file: string, name: string, version: string, measure: boolean) {
    const r = await verge(
      [
        'model',
        'publish',
        file,
        '--name',
        name,
        '--version',
        version,
        '--api-key-file',
        secretFile(cloud.cp.adminKey),
        ...(measure ? [] : ['--no-loaded-memory']),
        '--json',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const v = (JSON.parse(r.stdout) as ModelVersion).variants[0]!;
    return {
      v,
      measuredMb: v.loaded_memory ? v.loaded_memory[0]!.bytes / MB : undefined,
      estimateMb: estimatedMemoryMb(v.size),
    };
  }

  /** Deploy name@version to `device` alone; its final state and the agent's reason. */
  async function deployTo(device: string, name: string, version: string) {
    const dep = await cloud.deploy({ model: name, version, target: { devices: [device] } });
    const d = await cloud.waitDeployment(dep.id, ['succeeded', 'failed', 'rolled_back'], 60_000);
    return { state: d.state, device: d.devices[0]! };
  }

  it.skipIf(skip !== null)(
    `a small file that loads large is refused; a large file that loads small is served${skip ? ` (skipped: ${skip})` : ''}`,
    async () => {
      const bits = await publish(files.bits, 'w4', '1.0.0', true);
      const bow = await publish(files.bow, 'bow', '1.0.0', true);
      expect(bits.v.loaded_memory).toHaveLength(1);
      expect(bits.v.loaded_memory![0]!.batch).toBe(1);
      console.log(
        `loaded memory, measured vs estimated: 4-bit seed CNN ${bits.measuredMb!.toFixed(2)} vs ${bits.estimateMb.toFixed(2)} MB (file ${bits.v.size} B); bag of words ${bow.measuredMb!.toFixed(2)} vs ${bow.estimateMb.toFixed(2)} MB (file ${bow.v.size} B)`,
      );
      // the premise: the estimate misjudges both, in opposite directions
      const tight = memoryFor(bits.estimateMb, bits.measuredMb!);
      const roomy = memoryFor(bow.measuredMb!, bow.estimateMb);
      const small = await startAgent(cloud, 'tight-dev', { profile: parseProfileSpec(`gateway,memory_mb=${tight}`) });
      const large = await startAgent(cloud, 'roomy-dev', { profile: parseProfileSpec(`gateway,memory_mb=${roomy}`) });
      try {
        const refused = await deployTo('tight-dev', 'w4', '1.0.0');
        expect(refused.state).toBe('failed');
        expect(refused.device.error?.code).toBe('E_UNSUPPORTED');
        expect(refused.device.error?.message).toMatch(/needs [\d.]+ MB loaded \(measured at batch 1\)/);
        const served = await deployTo('roomy-dev', 'bow', '1.0.0');
        expect(served.state).toBe('succeeded');
        expect(large.served.get('bow')?.version).toBe('1.0.0');

        // the same models without the measurement: the agents fall back to the estimate and decide the other way
        expect((await publish(files.bitsCopy, 'w4', '1.0.1', false)).measuredMb).toBeUndefined();
        expect((await publish(files.bowCopy, 'bow', '1.0.1', false)).measuredMb).toBeUndefined();
        expect((await deployTo('tight-dev', 'w4', '1.0.1')).state).toBe('succeeded');
        const unmeasured = await deployTo('roomy-dev', 'bow', '1.0.1');
        expect(unmeasured.state).toBe('failed');
        expect(unmeasured.device.error?.message).toMatch(/estimated: 3× its file; not measured/);
        // a measurement belongs to the artifact: the same bytes published again carry it
        const again = await publish(files.bits, 'w4', '1.0.2', false);
        expect(again.v.loaded_memory).toEqual(bits.v.loaded_memory);
      } finally {
        await small.stop();
        await large.stop();
      }
    },
    300_000,
  );
});
