/**
 * Edge agents against the real control plane, with the faults caused for real: the broker
 * restarts while agents serve traffic (every inference must be counted by the cloud exactly once),
 * a tampered artifact and a forged signature are refused and reported, a canary whose model fails
 * on real requests is rolled back by the health gate, a revoked device is refused, and an agent
 * restarted on its data dir serves its last good model while the cloud is down.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EdgeAgent } from '../../src/edge/agent.ts';
import { EdgeAgent as Agent } from '../../src/edge/agent.ts';
import { dropSchema, externalServicesSkipReason, PG_URL, uniqueSchema } from '../cloud/services.ts';
import { mosquittoSkipReason, startMosquitto, type TestBroker } from '../edge/brokers.ts';
import { failingModelBytes, seedCnnBytes, tinyModelBytes } from '../edge/models.ts';
import { agentOptions, predict, sleep, startAgent, TestCloud, waitUntil } from './harness.ts';

const externalSkip = (await externalServicesSkipReason()) ?? mosquittoSkipReason() ?? null;

const backends = [
  { name: 'embedded broker + SQLite', external: false, skip: null as string | null },
  { name: 'Mosquitto (restartable, own process) + PostgreSQL', external: true, skip: externalSkip },
];

for (const backend of backends) {
  describe.skipIf(backend.skip !== null)(
    `agents over ${backend.name}${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    () => {
      let cloud: TestCloud;
      let broker: TestBroker | undefined;
      let schema: string | undefined;
      const agents: EdgeAgent[] = [];

      beforeAll(async () => {
        if (backend.external) {
          broker = await startMosquitto();
          schema = uniqueSchema();
          cloud = await TestCloud.start({ broker: broker.url, db: PG_URL, pgSchema: schema });
        } else {
          cloud = await TestCloud.start();
        }
      });
      afterAll(async () => {
        for (const a of agents) await a.stop().catch(() => undefined);
        await cloud?.close();
        await broker?.close();
        if (schema) await dropSchema(schema);
      });

      it('deploys to agents, and the cloud counts every inference exactly once across a broker restart', async () => {
        agents.push(await startAgent(cloud, 'cam-a'), await startAgent(cloud, 'cam-b'));
        await waitUntil(() => agents.every((a) => a.state === 'online'), 10_000, 'agents online');
        await cloud.publish('seed', '1.0.0', seedCnnBytes());
        const dep = await cloud.deploy({
          model: 'seed',
          version: '1.0.0',
          target: { devices: agents.map((a) => a.name) },
        });
        await cloud.waitDeployment(dep.id, ['succeeded']);
        let sent = 0;
        const burst = async (n: number) => {
          for (let i = 0; i < n; i++) {
            for (const a of agents) {
              const r = await predict(a, 'seed');
              expect(r.status).toBe(200);
              expect(r.body.model).toEqual({ name: 'seed', version: '1.0.0', variant: 'fp32' });
              sent++;
            }
          }
        };
        await burst(20);

        // The fault: the broker goes down (embedded: the whole control plane process state with it).
        if (broker) await broker.stop();
        else await cloud.down();
        await waitUntil(() => agents.every((a) => a.state !== 'online'), 10_000, 'agents notice the outage');
        await burst(15); // served offline; telemetry queues in each agent's SQLite outbox
        agents.forEach((a) => a.flushTelemetry());
        expect(agents.some((a) => a.store.pendingCount() > 0)).toBe(true);
        if (broker) await broker.start();
        else await cloud.up();
        await waitUntil(() => agents.every((a) => a.state === 'online'), 15_000, 'agents reconnect');
        await burst(10);

        for (const a of agents) expect(await a.drainOutbox(15_000)).toBe(true);
        let counted = 0;
        await waitUntil(
          async () => (counted = (await cloud.status()).telemetry.inferences) >= sent,
          15_000,
          `the cloud to count ${sent} inferences (has ${counted})`,
        ).catch((e) => {
          throw new Error(`${(e as Error).message}; has ${counted}`);
        });
        await sleep(300); // late duplicates, if any, would land now
        const status = await cloud.status();
        expect(status.telemetry.inferences).toBe(sent);
        expect(status.telemetry.errors).toBe(0);
      }, 90_000);
    },
  );
}

describe('agent faults against the control plane (embedded broker + SQLite)', () => {
  let cloud: TestCloud;
  let good: EdgeAgent;
  let other: EdgeAgent;
  beforeAll(async () => {
    cloud = await TestCloud.start();
    good = await startAgent(cloud, 'edge-1');
    other = await startAgent(cloud, 'edge-2');
    await cloud.publish('clf', '1.0.0', tinyModelBytes(1));
    const dep = await cloud.deploy({ model: 'clf', version: '1.0.0', target: { devices: ['edge-1', 'edge-2'] } });
    await cloud.waitDeployment(dep.id, ['succeeded']);
  }, 30_000);
  afterAll(async () => {
    await good?.stop().catch(() => undefined);
    await other?.stop().catch(() => undefined);
    await cloud?.close();
  });

  it('a canary whose model fails on real requests is rolled back by the health gate', async () => {
    await cloud.publish('clf', '2.0.0', failingModelBytes());
    const dep = await cloud.deploy({
      model: 'clf',
      version: '2.0.0',
      target: { devices: ['edge-1', 'edge-2'] },
      strategy: 'canary',
      canary_percent: 50,
      health: { max_error_rate: 0.05, min_inferences: 5, timeout_s: 60 },
    });
    const canaryName = dep.devices.find((d) => d.canary)!.name;
    const canary = [good, other].find((a) => a.name === canaryName)!;
    const rest = [good, other].find((a) => a.name !== canaryName)!;
    await waitUntil(() => canary.served.get('clf')?.version === '2.0.0', 15_000, 'canary loads 2.0.0');
    // the gate needs min_inferences (5) failures reported: the first 5 requests fail for sure; at
    // load the rollback may land before the last ones, which then answer from 1.0.0
    for (let i = 0; i < 8; i++) {
      const r = await predict(canary, 'clf');
      if (i < 5 || r.status !== 200) expect(r.status).toBe(500);
      else expect(r.body.model.version).toBe('1.0.0');
    }
    const rolled = await cloud.waitDeployment(dep.id, ['rolled_back'], 20_000);
    expect(rolled.reason).toMatch(/health gate failed/);
    await waitUntil(() => canary.served.get('clf')?.version === '1.0.0', 15_000, 'canary back on 1.0.0');
    expect((await predict(canary, 'clf')).status).toBe(200);
    expect(rest.served.get('clf')?.version).toBe('1.0.0'); // never received 2.0.0
  }, 40_000);

  it('refuses a tampered artifact before loading, reports it, and keeps serving the old model', async () => {
    const mv = await cloud.publish('clf', '1.1.0', tinyModelBytes(2));
    const sha = mv.variants[0]!.sha256;
    // Tamper with the bytes the cloud serves: same length, one flipped byte in the weights.
    const path = `${cloud.dataDir}/artifacts/${sha.slice(0, 2)}/${sha}`;
    const bytes = Buffer.from(tinyModelBytes(2));
    bytes[bytes.length - 8] ^= 0xff;
    writeFileSync(path, bytes);
    const dep = await cloud.deploy({ model: 'clf', version: '1.1.0', target: { devices: ['edge-1'] } });
    const failed = await cloud.waitDeployment(dep.id, ['failed']);
    expect(failed.devices[0]).toMatchObject({ name: 'edge-1', state: 'rejected', error: { code: 'E_INTEGRITY' } });
    expect((await predict(good, 'clf')).body.model.version).toBe('1.0.0');
    expect(await (await fetch(`${good.url}/metrics`)).text()).toMatch(
      /verge_agent_artifacts_rejected_total\{[^}]*reason="digest"[^}]*\} 1/,
    );
  });

  it('refuses an artifact whose signature does not verify, without downloading it', async () => {
    const mv = await cloud.publish('clf', '1.2.0', tinyModelBytes(3));
    const forged = Buffer.alloc(64, 7).toString('base64');
    await cloud.cp.repos.db.run('UPDATE model_variants SET signature = ? WHERE name = ? AND version = ?', [
      forged,
      'clf',
      '1.2.0',
    ]);
    const dep = await cloud.deploy({ model: 'clf', version: '1.2.0', target: { devices: ['edge-1'] } });
    const failed = await cloud.waitDeployment(dep.id, ['failed']);
    expect(failed.devices[0]).toMatchObject({ state: 'rejected', error: { code: 'E_SIGNATURE' } });
    expect(good.store.hasArtifact(mv.variants[0]!.sha256)).toBe(false);
    expect((await predict(good, 'clf')).body.model.version).toBe('1.0.0');
  });

  it('a revoked device is refused by the broker; restarted on its data dir it still serves offline', async () => {
    await cloud.admin.post(`/v1/devices/${other.deviceId}/revoke`);
    await waitUntil(() => other.state === 'revoked' || other.state === 'refused', 10_000, 'agent learns it is revoked');
    const dataDir = other.store.dataDir;
    await other.stop();
    const again = await Agent.start(agentOptions(dataDir)); // no token: resumes its identity
    try {
      await waitUntil(() => again.state === 'refused', 10_000, 'broker refuses the revoked device');
      expect(again.deviceId).toBe(other.deviceId);
      const r = await predict(again, 'clf');
      expect(r.status).toBe(200);
      expect(r.body.model.version).toBe('1.0.0');
    } finally {
      await again.stop();
    }
  }, 30_000);

  it('an agent restarted while the cloud is down serves its last good model without re-enrolling', async () => {
    const dataDir = good.store.dataDir;
    const id = good.deviceId;
    await good.stop();
    await cloud.down();
    good = await Agent.start(agentOptions(dataDir));
    expect(good.deviceId).toBe(id);
    expect(good.state).not.toBe('online');
    const r = await predict(good, 'clf');
    expect(r.status).toBe(200);
    expect(r.body.model.version).toBe('1.0.0');
    await cloud.up();
    await waitUntil(() => good.state === 'online', 15_000, 'reconnect once the cloud is back');
  }, 30_000);
});
