/**
 * OutboxPump's reads of its source: a freed window slot (a PUBACK) reads the source only when rows
 * may be there — queued since (kick), or due again (a failed publish, a reconnect) — so an agent
 * does not query its SQLite outbox once per acknowledged record. The receipts are tested in
 * test/edge/outbox-receipts.test.ts.
 */
import { expect, it } from 'vitest';
import type { OutboxRow } from './agent-store.ts';
import { OutboxPump, type OutboxSource } from './outbox-pump.ts';

/** An in-memory outbox that counts its reads. */
class CountingOutbox implements OutboxSource {
  rows: OutboxRow[] = [];
  reads = 0;
  private seq = 0;
  add(n: number): void {
    for (let i = 0; i < n; i++) {
      const seq = ++this.seq;
      this.rows.push({ seq, id: `row-${seq}`, topic: 't', payload: Buffer.from(`p${seq}`), qos: 1, receipt: 0 });
    }
  }
  pending(limit: number, afterSeq = 0): OutboxRow[] {
    this.reads++;
    return this.rows.filter((r) => r.seq > afterSeq).slice(0, limit);
  }
  deliveredMany(seqs: readonly number[]): void {
    const done = new Set(seqs);
    this.rows = this.rows.filter((r) => !done.has(r.seq));
  }
  pendingCount(): number {
    return this.rows.length;
  }
}

const drained = (pump: OutboxPump) => new Promise<void>((resolve) => pump.once('drained', () => resolve()));

it('reads the source once for a burst within the window, not once per PUBACK; a kick reads the new rows', async () => {
  const outbox = new CountingOutbox();
  const sent: string[] = [];
  const pump = new OutboxPump(outbox, async (_t, payload) => void sent.push(payload.toString()), 64);
  const flushed: number[] = [];
  pump.on('flushed', (n) => flushed.push(n));
  outbox.add(50);
  let done = drained(pump);
  pump.connected();
  await done;
  expect(sent).toHaveLength(50);
  expect(outbox.reads).toBe(1); // was 51: one more read per acknowledged row
  expect(flushed.reduce((a, b) => a + b, 0)).toBe(50);
  outbox.add(2);
  done = drained(pump);
  pump.kick();
  await done;
  expect(sent.slice(50)).toEqual(['p51', 'p52']);
  expect(outbox.reads).toBe(2);
  pump.stop();
});

it('past the window, every row is sent once and in order', async () => {
  const outbox = new CountingOutbox();
  const sent: string[] = [];
  const pump = new OutboxPump(outbox, async (_t, payload) => void sent.push(payload.toString()), 4);
  outbox.add(30);
  const done = drained(pump);
  pump.connected();
  await done;
  expect(sent).toEqual(Array.from({ length: 30 }, (_, i) => `p${i + 1}`));
  pump.stop();
});

it('a row whose publish failed is read and sent again, though nothing new was queued', async () => {
  const outbox = new CountingOutbox();
  const sent: string[] = [];
  let failures = 1;
  const pump = new OutboxPump(outbox, async (_t, payload) => {
    if (payload.toString() === 'p2' && failures-- > 0) throw new Error('write failed');
    sent.push(payload.toString());
  });
  outbox.add(3);
  const done = drained(pump);
  pump.connected();
  await done; // the retry comes OUTBOX_RETRY_MS later
  expect(sent.sort()).toEqual(['p1', 'p2', 'p3']);
  pump.stop();
});

it('after a reconnect, unacknowledged rows are read and sent again', async () => {
  const outbox = new CountingOutbox();
  const sent: string[] = [];
  let hold = true;
  const pump = new OutboxPump(outbox, (_t, payload) => {
    sent.push(payload.toString());
    // the first connection never acknowledges: the rows stay in flight until it is lost
    return hold ? new Promise<void>(() => undefined) : Promise.resolve();
  });
  outbox.add(3);
  pump.connected();
  expect(sent).toEqual(['p1', 'p2', 'p3']);
  pump.disconnected();
  hold = false;
  const done = drained(pump);
  pump.connected();
  await done;
  expect(sent).toEqual(['p1', 'p2', 'p3', 'p1', 'p2', 'p3']);
  expect(outbox.pendingCount()).toBe(0);
  pump.stop();
});
