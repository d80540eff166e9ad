/**
 * The outbox's end-to-end receipts (outbox-pump.ts) on a real AgentStore, with the broker played
 * by the publish function: a telemetry row that asked for a receipt stays after its PUBACK until a
 * receipt names it; without one it is sent again (the cloud sends receipts) or settled by the
 * PUBACK (an older cloud that never does); rows that asked for none go at the PUBACK as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { AgentStore } from '../../src/edge/agent-store.ts';
import { OutboxPump } from '../../src/edge/outbox-pump.ts';
import { deviceTopic } from '../../src/protocol/index.ts';
import { waitUntil } from '../e2e/harness.ts';

const DEVICE = 'dev-receipts-1';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function setup(cloudSendsReceipts: boolean, timeoutMs = 300) {
  const dir = mkdtempSync(join(tmpdir(), 'verge-receipts-'));
  dirs.push(dir);
  const store = new AgentStore(dir);
  if (cloudSendsReceipts) store.markCloudSendsReceipts();
  const published: string[] = [];
  const pump = new OutboxPump(
    store,
    async (_topic, payload) => void published.push(payload.toString()),
    undefined,
    store,
    timeoutMs,
  );
  const queue = (id: string, receipt: boolean) =>
    store.enqueue(id, deviceTopic(DEVICE, receipt ? 'telemetry' : 'ack'), Buffer.from(id), 1, receipt);
  return { store, pump, published, queue };
}

it('a row that asked for a receipt stays after its PUBACK until a receipt names it', async () => {
  const { store, pump, published, queue } = setup(true, 60_000);
  queue('tel-00000001', true);
  queue('tel-00000002', true);
  queue('ack-00000001', false);
  pump.connected();
  await waitUntil(() => published.length === 3, 5000, 'three publishes');
  await waitUntil(() => store.pendingCount() === 2, 5000, 'the ack row settled by its PUBACK');
  expect(pump.awaitingReceipt).toBe(2);
  pump.receipt(['tel-00000002', 'unknown-000001']);
  await waitUntil(() => store.pendingCount() === 1, 5000, 'the receipted row deleted');
  expect(store.pending(10).map((r) => r.id)).toEqual(['tel-00000001']);
  pump.stop();
  store.close();
});

it('without a receipt, a row is sent again (doubling the wait) until one comes', async () => {
  const { store, pump, published, queue } = setup(true, 200);
  queue('tel-00000001', true);
  pump.connected();
  await waitUntil(() => published.length >= 3, 10_000, 'two resends');
  expect(pump.resent).toBeGreaterThanOrEqual(2);
  expect(store.pendingCount()).toBe(1);
  pump.receipt(['tel-00000001']);
  await waitUntil(() => store.pendingCount() === 0, 5000, 'deleted after the receipt');
  const sends = published.length;
  await new Promise((r) => setTimeout(r, 1000));
  expect(published.length).toBe(sends); // nothing more once receipted
  pump.stop();
  store.close();
});

it('after a reconnect, rows waiting for a receipt are sent again at once (a receipt sent meanwhile is lost)', async () => {
  const { store, pump, published, queue } = setup(true, 60_000);
  queue('tel-00000001', true);
  pump.connected();
  await waitUntil(() => pump.awaitingReceipt === 1, 5000, 'acknowledged, waiting for the receipt');
  pump.disconnected();
  pump.connected();
  await waitUntil(() => published.length === 2, 5000, 'sent again after the reconnect');
  pump.receipt(['tel-00000001']);
  await waitUntil(() => store.pendingCount() === 0, 5000, 'deleted after the receipt');
  pump.stop();
  store.close();
});

it('a row not named while a later one was is sent again after the gap wait (it was dropped)', async () => {
  const { store, pump, published, queue } = setup(true, 60_000);
  queue('tel-00000001', true);
  queue('tel-00000002', true);
  pump.connected();
  await waitUntil(() => pump.awaitingReceipt === 2, 5000, 'both acknowledged');
  pump.receipt(['tel-00000002']);
  await waitUntil(() => published.length === 3, 15_000, 'the first row sent again');
  expect(published[2]).toBe('tel-00000001');
  pump.stop();
  store.close();
});

it('a control plane that is behind but names rows in order gets no resends, even past the timeout', async () => {
  const { store, pump, published, queue } = setup(true, 3000);
  const ids = Array.from({ length: 8 }, (_, i) => `tel-0000000${i}`);
  for (const id of ids) queue(id, true);
  pump.connected();
  await waitUntil(() => pump.awaitingReceipt === ids.length, 5000, 'all acknowledged');
  for (const id of ids) {
    await new Promise((r) => setTimeout(r, 500)); // one receipt per 500 ms: the last comes 4 s after its PUBACK
    pump.receipt([id]);
  }
  await waitUntil(() => store.pendingCount() === 0, 5000, 'all deleted');
  expect(published.length).toBe(ids.length);
  expect(pump.resent).toBe(0);
  pump.stop();
  store.close();
});

it('an older cloud that sends no receipts: the PUBACK settles the row after the timeout, nothing is resent', async () => {
  const { store, pump, published, queue } = setup(false, 200);
  queue('tel-00000001', true);
  pump.connected();
  await waitUntil(() => store.pendingCount() === 0, 5000, 'settled without a receipt');
  expect(published.length).toBe(1);
  expect(pump.resent).toBe(0);
  pump.stop();
  store.close();
});

it('a receipt teaches the agent that its cloud sends them (kept in agent.db)', () => {
  const { store, pump } = setup(false);
  expect(store.cloudSendsReceipts()).toBe(false);
  pump.receipt([]);
  expect(store.cloudSendsReceipts()).toBe(true);
  pump.stop();
  store.close();
});
