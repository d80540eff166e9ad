/** What the FL fleet tests share: the two backends, devices' shards, waiting for agents, tear-down. */
import { rmSync } from 'node:fs';
import type { Dataset } from '../../src/data/dataset.ts';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { partitionIndices, selectSamples } from '../../src/fl/partition.ts';
import { FL_PATHS, HTTP_PATHS, type FlJob } from '../../src/protocol/index.ts';
import { dropSchema, externalServicesSkipReason, MOSQUITTO_URL, PG_URL, uniqueSchema } from '../cloud/services.ts';
import { waitUntil, type CloudOptions, type TestCloud } from '../e2e/harness.ts';

/** Embedded broker + SQLite always; Mosquitto + PostgreSQL when running (null = skip; fails under CI=true). */
export const FLEET_BACKENDS: { name: string; opts: () => Promise<CloudOptions | null> }[] = [
  { name: 'embedded broker + SQLite', opts: async () => ({}) },
  {
    name: 'Mosquitto + PostgreSQL',
    opts: async () =>
      (await externalServicesSkipReason()) ? null : { db: PG_URL, pgSchema: uniqueSchema(), broker: MOSQUITTO_URL },
  },
];

/** `devices` disjoint Dirichlet(1) shards of the training split, without a test split (agents hold one out). */
export function deviceShards(data: Dataset, devices: number, seed: number): Dataset[] {
  return partitionIndices(data.train.y, devices, { kind: 'dirichlet', alpha: 1 }, seed).map((idx) => ({
    ...data,
    train: selectSamples(data.train, idx),
    test: { x: new Float32Array(0), y: new Int32Array(0), count: 0 },
  }));
}

export async function waitOnline(cloud: TestCloud, devices: number, timeoutMs: number): Promise<void> {
  await waitUntil(
    async () =>
      (await cloud.admin.get<{ devices: { status: string }[] }>(HTTP_PATHS.devices)).devices.filter(
        (d) => d.status === 'online',
      ).length === devices,
    timeoutMs,
    `${devices} devices online`,
  );
}

export async function closeFleet(
  agents: EdgeAgent[],
  cloud: TestCloud | undefined,
  dirs: string[],
  opts: CloudOptions | null,
): Promise<void> {
  for (const a of agents) await a.stop().catch(() => undefined);
  await cloud?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (opts?.pgSchema) await dropSchema(opts.pgSchema);
}

/** Wait until FL job `id` is in one of `states`; the timeout error shows its rounds so far. */
export async function waitJob(
  cloud: TestCloud,
  id: string,
  states: FlJob['state'][],
  timeoutMs: number,
): Promise<FlJob> {
  let job = await cloud.admin.get<FlJob>(FL_PATHS.job(id));
  await waitUntil(
    async () => states.includes((job = await cloud.admin.get<FlJob>(FL_PATHS.job(id))).state),
    timeoutMs,
    `FL job ${id} to be ${states.join('/')} (${JSON.stringify(job?.history.map((h) => [h.round, h.state, h.accepted, h.missing]))})`,
  );
  return job;
}
