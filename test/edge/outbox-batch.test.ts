/**
 * OutboxPump's telemetry batches (src/edge/outbox-pump.ts): several pending telemetry rows go in
 * one TelemetryBatchMessage when the cloud said it accepts them, one row goes alone as it is; the
 * bounds (records, bytes) hold; one PUBACK settles every row of a message; a failed or dropped
 * message is sent again; receipts stay per record id. Over a real broker and control plane:
 * test/edge/outbox-broker.test.ts and test/cloud/telemetry-batch.test.ts.
 */
import { expect, it } from 'vitest';
import { OUTBOX_WINDOW_BYTES, OutboxPump, type ReceiptState } from '../../src/edge/outbox-pump.ts';
import {
  decodeTelemetry,
  deviceTopic,
  encodeMessage,
  MAX_DEVICE_MESSAGE_BYTES,
  newMessageId,
} from '../../src/protocol/index.ts';
import { telemetryRecord } from '../cloud/sim-device.ts';
import { MemoryOutbox } from './memory-outbox.ts';

const DEV = 'dev-0123456789ab';
const TOPIC = deviceTopic(DEV, 'telemetry');

class Outbox extends MemoryOutbox {
  telemetry(n: number, opts: { receipt?: boolean; resultKeys?: number } = {}): string[] {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = newMessageId();
      const results = opts.resultKeys
        ? Object.fromEntries(Array.from({ length: opts.resultKeys }, (_, k) => [`class-${k}-${'x'.repeat(40)}`, k]))
        : undefined;
      const payload = encodeMessage('telemetry', {
        ...telemetryRecord({ id: DEV }, i),
        id,
        ...(results ? { results } : {}),
        ...(opts.receipt ? { receipt: true } : {}),
      });
      this.enqueue(id, TOPIC, payload, opts.receipt === true);
      ids.push(id);
    }
    return ids;
  }
  ack(): void {
    const id = `ack-${this.rows.length + 1}`;
    this.enqueue(id, deviceTopic(DEV, 'ack'), Buffer.from(id), false);
  }
}

/** What the cloud said: receipts, and batches of `batch` records. */
function cloud(batch: number | undefined): ReceiptState & { marked: number[] } {
  const marked: number[] = [];
  return {
    marked,
    cloudSendsReceipts: () => true,
    markCloudSendsReceipts: () => undefined,
    ...(batch === undefined
      ? {}
      : { cloudTelemetryBatch: () => batch, markCloudTelemetryBatch: (n: number) => void marked.push(n) }),
  };
}

/** The ids a sent payload carries (a batch's records, or the one record). */
const idsOf = (p: Buffer) => decodeTelemetry(p).records.map((r) => r.id);
const drained = (pump: OutboxPump) => new Promise<void>((resolve) => pump.once('drained', () => resolve()));

it('pending telemetry rows go in batches up to the bound, in order; one PUBACK settles every row of a message', async () => {
  const outbox = new Outbox();
  const sent: Buffer[] = [];
  const pump = new OutboxPump(outbox, async (_t, p) => void sent.push(p), 64, cloud(100), 30_000, 20);
  const ids = outbox.telemetry(50);
  const done = drained(pump);
  pump.connected();
  await done;
  expect(sent.map((p) => decodeTelemetry(p).batch)).toEqual([true, true, true]);
  expect(sent.map((p) => idsOf(p).length)).toEqual([20, 20, 10]);
  expect(sent.flatMap(idsOf)).toEqual(ids);
  expect(outbox.pendingCount()).toBe(0);
  expect(pump.delivered).toBe(50);
  expect(Object.fromEntries(pump.messageSizes)).toEqual({ 20: 2, 10: 1 });
  pump.stop();
});

it('one row pending is sent alone, as it is (no batch envelope, no wait)', async () => {
  const outbox = new Outbox();
  const sent: Buffer[] = [];
  const pump = new OutboxPump(outbox, async (_t, p) => void sent.push(p), 64, cloud(100));
  outbox.telemetry(1);
  const payload = outbox.rows[0]!.payload;
  const done = drained(pump);
  pump.connected();
  await done;
  expect(sent).toHaveLength(1);
  expect(sent[0]).toBe(payload);
  expect(decodeTelemetry(sent[0]!).batch).toBe(false);
  pump.stop();
});

it('the cloud bounds the batch: none said (an older cloud) sends one record per message; a receipt teaches it', async () => {
  const outbox = new Outbox();
  const sent: Buffer[] = [];
  const state = cloud(undefined);
  const pump = new OutboxPump(outbox, async (_t, p) => void sent.push(p), 64, state);
  outbox.telemetry(5);
  pump.connected();
  await new Promise((r) => setImmediate(r));
  expect(sent.map((p) => idsOf(p).length)).toEqual([1, 1, 1, 1, 1]);
  // a newer cloud's receipt says it takes batches of up to 3
  const learning = new Outbox();
  const s2 = cloud(1);
  const sent2: Buffer[] = [];
  const p2 = new OutboxPump(learning, async (_t, p) => void sent2.push(p), 64, s2);
  p2.receipt([], 3);
  expect(s2.marked).toEqual([3]);
  learning.telemetry(7);
  p2.connected();
  await new Promise((r) => setImmediate(r));
  expect(sent2.map((p) => idsOf(p).length)).toEqual([3, 3, 1]);
  // a receipt without it (the cloud was downgraded): one record per message again
  p2.receipt([]);
  expect(s2.marked).toEqual([3, 1]);
  learning.telemetry(2);
  p2.kick();
  await new Promise((r) => setImmediate(r));
  expect(sent2.slice(3).map((p) => idsOf(p).length)).toEqual([1, 1]);
  pump.stop();
  p2.stop();
});

it('a message stays within MAX_DEVICE_MESSAGE_BYTES: large records make smaller batches', async () => {
  const outbox = new Outbox();
  const sent: Buffer[] = [];
  const pump = new OutboxPump(outbox, async (_t, p) => void sent.push(p), 64, cloud(100));
  const ids = outbox.telemetry(30, { resultKeys: 200 }); // ~10 KB each
  expect(outbox.rows[0]!.payload.length).toBeGreaterThan(9000);
  const done = drained(pump);
  pump.connected();
  await done;
  for (const p of sent) expect(p.length).toBeLessThanOrEqual(MAX_DEVICE_MESSAGE_BYTES);
  expect(sent.length).toBeGreaterThan(3);
  expect(Math.max(...sent.map((p) => idsOf(p).length))).toBeGreaterThan(1);
  expect(sent.flatMap(idsOf)).toEqual(ids);
  pump.stop();
});

it('bytes in flight are bounded (OUTBOX_WINDOW_BYTES), not only messages', async () => {
  const outbox = new Outbox();
  const sent: Buffer[] = [];
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const pump = new OutboxPump(outbox, (_t, p) => (sent.push(p), held), 64, cloud(100));
  outbox.telemetry(400, { resultKeys: 200 }); // ~10 KB each, ~4 MB in all
  pump.connected();
  const inFlight = sent.reduce((a, p) => a + p.length, 0);
  expect(sent.length).toBeLessThan(64);
  expect(inFlight).toBeGreaterThanOrEqual(OUTBOX_WINDOW_BYTES);
  expect(inFlight - sent.at(-1)!.length).toBeLessThan(OUTBOX_WINDOW_BYTES);
  const done = drained(pump);
  release();
  await done;
  expect(sent.reduce((a, p) => a + idsOf(p).length, 0)).toBe(400);
  pump.stop();
});

it('acks are not batched: they go alone, in order with the telemetry around them', async () => {
  const outbox = new Outbox();
  const sent: { topic: string; p: Buffer }[] = [];
  const pump = new OutboxPump(outbox, async (topic, p) => void sent.push({ topic, p }), 64, cloud(100));
  outbox.telemetry(3);
  outbox.ack();
  outbox.telemetry(2);
  const done = drained(pump);
  pump.connected();
  await done;
  expect(sent.map((s) => (s.topic === TOPIC ? idsOf(s.p).length : s.p.toString()))).toEqual([3, 'ack-4', 2]);
  pump.stop();
});

it('a batch whose publish failed is sent again whole; after a reconnect, unacknowledged batches go again', async () => {
  const outbox = new Outbox();
  const sent: string[][] = [];
  let failures = 1;
  let hold = false;
  const pump = new OutboxPump(
    outbox,
    async (_t, p) => {
      sent.push(idsOf(p));
      if (failures-- > 0) throw new Error('write failed');
      if (hold) await new Promise<void>(() => undefined);
    },
    64,
    cloud(100),
    30_000,
    4,
  );
  const ids = outbox.telemetry(8);
  let done = drained(pump);
  pump.connected();
  await done; // the retry comes OUTBOX_RETRY_MS later
  expect(sent[0]).toEqual(ids.slice(0, 4));
  expect(sent.slice(1).flat().sort()).toEqual([...ids].sort());
  // the connection is lost with a batch in flight: it is sent again on the next connect
  hold = true;
  const more = outbox.telemetry(3);
  pump.kick();
  expect(sent.at(-1)).toEqual(more);
  pump.disconnected();
  hold = false;
  done = drained(pump);
  pump.connected();
  await done;
  expect(sent.at(-1)).toEqual(more);
  expect(outbox.pendingCount()).toBe(0);
  pump.stop();
});

it('receipts stay per record: a receipt naming some rows of a batch settles those, the others are sent again', async () => {
  const outbox = new Outbox();
  const sent: string[][] = [];
  const pump = new OutboxPump(outbox, async (_t, p) => void sent.push(idsOf(p)), 64, cloud(100), 300);
  const ids = outbox.telemetry(6, { receipt: true });
  pump.connected();
  await new Promise((r) => setTimeout(r, 20));
  expect(sent).toEqual([ids]);
  expect(pump.awaitingReceipt).toBe(6);
  pump.receipt(ids.slice(0, 4), 100);
  expect(pump.awaitingReceipt).toBe(2);
  pump.flush();
  expect(outbox.rows.map((r) => r.id)).toEqual(ids.slice(4));
  // the two no receipt named: sent again once their wait is over, each alone (whatever refused
  // them in a batch takes a single record)
  const t0 = Date.now();
  while (sent.length < 3 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
  expect(sent.slice(1)).toEqual([[ids[4]], [ids[5]]]);
  expect(pump.resent).toBe(2);
  pump.receipt(ids.slice(4), 100);
  pump.flush();
  expect(outbox.pendingCount()).toBe(0);
  pump.stop();
});
