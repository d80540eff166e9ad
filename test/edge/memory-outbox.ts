/**
 * A simulated agent's outbox in memory: the OutboxSource the agent's own OutboxPump
 * (src/edge/outbox-pump.ts) reads, so the bench's agents (bench/fleet/sim-agents.ts) publish, wait
 * for receipts and resend by the agent's rule itself, not a copy of it, and the pump's unit tests
 * drive it without SQLite. The agent keeps the same rows in SQLite.
 */
import type { OutboxRow } from '../../src/edge/agent-store.ts';
import type { OutboxSource } from '../../src/edge/outbox-pump.ts';

export class MemoryOutbox implements OutboxSource {
  /** Pending rows in seq order (a device's few dozen records: a linear scan is cheap). */
  rows: OutboxRow[] = [];
  private seq = 0;

  enqueue(id: string, topic: string, payload: Buffer, receipt: boolean): void {
    this.rows.push({ seq: ++this.seq, id, topic, payload, qos: 1, receipt: receipt ? 1 : 0 });
  }

  pending(limit: number, afterSeq = 0): OutboxRow[] {
    const out: OutboxRow[] = [];
    for (const r of this.rows) {
      if (r.seq <= afterSeq) continue;
      out.push(r);
      if (out.length >= limit) break;
    }
    return out;
  }

  deliveredMany(seqs: readonly number[]): void {
    const done = new Set(seqs);
    this.rows = this.rows.filter((r) => !done.has(r.seq));
  }

  pendingCount(): number {
    return this.rows.length;
  }
}
