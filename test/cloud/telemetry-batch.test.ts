/**
 * Batched telemetry (TelemetryBatchMessage) end to end, on real parts: a control plane over SQLite
 * with its embedded broker, and one behind a private Mosquitto configured as the control plane
 * generates it. The device side is the agent's own outbox code (AgentStore, MqttSession,
 * OutboxPump): a burst of records goes in batches and must arrive complete, once each, and be
 * named in receipts record by record; a batch sent again and records repeated across batches are
 * deduplicated; an older agent's one-record message is still accepted beside batches.
 * The poison record inside a batch: test/security/telemetry-poison.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentStore } from '../../src/edge/agent-store.ts';
import { deviceSessionOptions, MqttSession } from '../../src/edge/mqtt-session.ts';
import { OutboxPump } from '../../src/edge/outbox-pump.ts';
import {
  decodeMessage,
  deviceTopic,
  encodeMessage,
  encodeTelemetryBatch,
  HTTP_PATHS,
  MAX_TELEMETRY_BATCH,
  type EnrollTokenResponse,
} from '../../src/protocol/index.ts';
import type { ControlPlane } from '../../src/cloud/index.ts';
import { mosquittoSkipReason } from '../edge/brokers.ts';
import { metricValue, startCloud, startMosquittoCloud, telemetryRecord } from '../security/harness.ts';
import { SimDevice, waitFor } from './sim-device.ts';

const BURST = 600;
const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A device enrolled with `cloud` and the agent's outbox machinery on its credentials (not yet connected). */
function outboxAgent(d: SimDevice, mqttUrl: string) {
  const dir = mkdtempSync(join(tmpdir(), 'verge-batch-agent-'));
  dirs.push(dir);
  const store = new AgentStore(dir);
  const session = new MqttSession({
    ...deviceSessionOptions(mqttUrl, d.id, d.enrollment.credentials.password),
    baseDelayMs: 50,
    maxDelayMs: 500,
  });
  const pump = new OutboxPump(store, (t, p, q) => session.publish(t, p, q), undefined, {
    cloudSendsReceipts: () => d.enrollment.telemetry_receipts === true,
    markCloudSendsReceipts: () => undefined,
    cloudTelemetryBatch: () => d.enrollment.telemetry_batch ?? 1,
    markCloudTelemetryBatch: () => undefined,
  });
  const receipted = new Set<string>();
  let batchSaid: number | undefined;
  session.on('connected', () => pump.connected());
  session.on('disconnected', () => pump.disconnected());
  session.on('message', (topic, payload) => {
    if (!topic.endsWith('/command')) return;
    const cmd = decodeMessage('command', payload);
    if (cmd.command !== 'receipt') return;
    batchSaid = cmd.telemetry_batch;
    for (const id of cmd.telemetry ?? []) receipted.add(id);
    pump.receipt(cmd.telemetry ?? [], cmd.telemetry_batch);
  });
  closers.push(async () => {
    pump.stop();
    await session.stop();
    store.close();
  });
  return {
    store,
    session,
    pump,
    receipted,
    batchSaid: () => batchSaid,
    queue(ids: string[]) {
      for (const [i, id] of ids.entries()) {
        const payload = encodeMessage('telemetry', { ...telemetryRecord(d, i), id, receipt: true });
        store.enqueue(id, deviceTopic(d.id, 'telemetry'), payload, 1, true);
      }
      pump.kick();
    },
  };
}

async function burst(cp: ControlPlane, d: SimDevice, mqttUrl: string): Promise<void> {
  expect(d.enrollment.telemetry_batch).toBe(MAX_TELEMETRY_BATCH);
  const agent = outboxAgent(d, mqttUrl);
  const ids = Array.from({ length: BURST }, (_, i) => `${d.id}-burst-${String(i).padStart(6, '0')}`);
  agent.queue(ids); // queued before the connect: the whole backlog is pending at once
  agent.session.start();
  await waitFor(() => agent.store.pendingCount() === 0, 'every record receipted and deleted', 60_000);
  await cp.flush();
  expect((await cp.repos.telemetry.totals()).messages).toBe(BURST);
  expect([...agent.receipted].sort()).toEqual([...ids].sort());
  expect(agent.batchSaid()).toBe(MAX_TELEMETRY_BATCH);
  // batches, not one message per record (how many depends on the window: at most 64 in flight)
  const sizes = [...agent.pump.messageSizes];
  const messages = sizes.reduce((a, [, n]) => a + n, 0);
  expect(sizes.reduce((a, [k, n]) => a + k * n, 0)).toBeGreaterThanOrEqual(BURST);
  expect(messages).toBeLessThanOrEqual(Math.ceil(BURST / 2));
  expect(Math.max(...sizes.map(([k]) => k))).toBeGreaterThan(1);
  expect(await metricValue(cp, 'verge_mqtt_messages_total', { verb: 'telemetry' })).toBeLessThan(BURST);

  // a batch sent again (a lost PUBACK), and records repeated in another batch with one new one
  const payloadOf = (id: string, i: number) =>
    encodeMessage('telemetry', { ...telemetryRecord(d, i), id, receipt: true });
  const again = encodeTelemetryBatch(d.id, ids.slice(0, 20).map(payloadOf));
  await agent.session.publish(deviceTopic(d.id, 'telemetry'), again, 1);
  await agent.session.publish(deviceTopic(d.id, 'telemetry'), again, 1);
  const extra = `${d.id}-extra-000001`;
  await agent.session.publish(
    deviceTopic(d.id, 'telemetry'),
    encodeTelemetryBatch(d.id, [...ids.slice(10, 30).map(payloadOf), payloadOf(extra, 0)]),
    1,
  );
  // and an older agent's message: one record, no batch
  const single = `${d.id}-single-00001`;
  await agent.session.publish(deviceTopic(d.id, 'telemetry'), payloadOf(single, 1), 1);
  await waitFor(async () => {
    await cp.flush();
    return (await cp.repos.telemetry.totals()).messages === BURST + 2;
  }, 'the new batch record and the single record stored');
  await waitFor(() => agent.receipted.has(extra) && agent.receipted.has(single), 'their receipts');
  // 20 + 20 + 20 repeated ids (more only if a reconnect made the agent resend what waited for a receipt)
  expect(await metricValue(cp, 'verge_telemetry_records_total', { result: 'duplicate' })).toBeGreaterThanOrEqual(60);
  expect(await metricValue(cp, 'verge_messages_rejected_total', { verb: 'telemetry' })).toBe(0);
}

describe('batched telemetry over real brokers', () => {
  it('embedded broker: a burst from the outbox arrives in batches, complete, deduplicated, receipted per record', async () => {
    const cloud = await startCloud('sqlite');
    closers.push(() => cloud.close());
    const { token } = await cloud.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {});
    const d = await SimDevice.create(cloud.url, token, 'batcher');
    await burst(cloud.cp, d, d.enrollment.mqtt_url);
  }, 120_000);

  const skip = mosquittoSkipReason();
  it.skipIf(skip !== undefined)(
    `Mosquitto (the generated configuration): the same burst arrives complete and deduplicated${skip ? ` (skipped: ${skip})` : ''}`,
    async () => {
      const cloud = await startMosquittoCloud('verge-batch-');
      closers.push(() => cloud.close());
      const d = await cloud.enroll('batcher');
      await burst(cloud.cp, d, cloud.brokerUrl);
    },
    120_000,
  );
});
