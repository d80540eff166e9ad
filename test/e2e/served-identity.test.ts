/**
 * Two versions of a model with the same bytes (a re-release, a rollback target): the agent keeps
 * its session but must serve, measure and report under the version it was told to run. Before
 * the fix, an agent moved from seed-cnn@1.0.0 to 1.1.0 with identical bytes kept reporting its
 * telemetry as 1.0.0 (seen in test/web/dashboard.test.ts after a rolled-back canary of 1.0.0),
 * so a canary's health gate never saw the canary's inferences.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { HTTP_PATHS, type TelemetrySummaryResponse } from '../../src/protocol/index.ts';
import { tinyModelBytes } from '../edge/models.ts';
import { predict, startAgent, TestCloud, waitUntil } from './harness.ts';

describe('served model identity across same-bytes versions (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  let agents: EdgeAgent[] = [];

  beforeAll(async () => {
    cloud = await TestCloud.start();
    for (const name of ['cam-1', 'cam-2']) agents.push(await startAgent(cloud, name));
    const bytes = tinyModelBytes(1);
    await cloud.publish('seed-cnn', '1.0.0', bytes);
    await cloud.publish('seed-cnn', '1.1.0', bytes);
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) await a.stop().catch(() => undefined);
    agents = [];
    await cloud?.close();
  });

  const target = { devices: ['cam-1', 'cam-2'] };

  it('a canary of the same bytes under a new version is measured as the new version and passes its gate', async () => {
    const first = await cloud.deploy({ model: 'seed-cnn', version: '1.0.0', target });
    await cloud.waitDeployment(first.id, ['succeeded']);

    const dep = await cloud.deploy({
      model: 'seed-cnn',
      version: '1.1.0',
      target,
      strategy: 'canary',
      canary_percent: 50,
      health: { max_error_rate: 0.05, min_inferences: 5, timeout_s: 60 },
    });
    const canary = agents.find((a) => a.name === dep.devices.find((d) => d.canary)!.name)!;
    await waitUntil(() => canary.served.get('seed-cnn')?.version === '1.1.0', 15_000, 'canary serves 1.1.0');
    for (let i = 0; i < 6; i++) expect((await predict(canary, 'seed-cnn')).status).toBe(200);
    await canary.drainOutbox();
    const done = await cloud.waitDeployment(dep.id, ['succeeded', 'rolled_back'], 30_000);
    expect(done.state, done.reason ?? '').toBe('succeeded');
  }, 60_000);

  it('after a rolled-back canary of the old version, agents on 1.1.0 report 1.1.0 (telemetry and /metrics)', async () => {
    const back = await cloud.deploy({
      model: 'seed-cnn',
      version: '1.0.0',
      target,
      strategy: 'canary',
      canary_percent: 50,
      auto_promote: false,
    });
    const canary = agents.find((a) => a.name === back.devices.find((d) => d.canary)!.name)!;
    await waitUntil(() => canary.served.get('seed-cnn')?.version === '1.0.0', 15_000, 'canary serves 1.0.0');
    await cloud.admin.post(HTTP_PATHS.rollback(back.id), { reason: 'test' });
    await cloud.waitDeployment(back.id, ['rolled_back']);
    await waitUntil(() => canary.served.get('seed-cnn')?.version === '1.1.0', 15_000, 'canary back on 1.1.0');

    const totals = async () => {
      for (const a of agents) expect(await a.drainOutbox()).toBe(true);
      await cloud.cp.flush();
      const s = await cloud.admin.get<TelemetrySummaryResponse>(`${HTTP_PATHS.telemetry}?model=seed-cnn&since=0`);
      return Object.fromEntries(s.models.map((m) => [m.version, m.inferences]));
    };
    const before = await totals();
    for (const a of agents) {
      for (let i = 0; i < 3; i++) expect((await predict(a, 'seed-cnn')).status).toBe(200);
      const metrics = await (await fetch(`${a.url}/metrics`)).text();
      expect(metrics).toMatch(/verge_agent_predictions_total\{[^}]*version="1\.1\.0"/);
      expect(metrics).not.toMatch(/verge_agent_predictions_total\{[^}]*version="1\.0\.0"/);
    }
    const after = await totals();
    expect({ '1.0.0': after['1.0.0'] ?? 0, '1.1.0': after['1.1.0'] ?? 0 }).toEqual({
      '1.0.0': before['1.0.0'] ?? 0,
      '1.1.0': (before['1.1.0'] ?? 0) + 6,
    });
  }, 60_000);
});
