/**
 * Finding 1 (high): one device stops all telemetry on PostgreSQL. A telemetry message with U+0000
 * in a string field (`model.variant: "x\u0000"`) used to fail every later insert batch on
 * PostgreSQL, silently and forever. Attacked here on the real components: the embedded broker, a
 * control plane over SQLite and over PostgreSQL, and enrolled devices publishing over MQTT.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlaneMetrics } from '../../src/cloud/metrics.ts';
import { TelemetryRepository } from '../../src/cloud/repositories/index.ts';
import { TelemetryIngest } from '../../src/cloud/telemetry.ts';
import { encodeMessage, encodeTelemetryBatch, HTTP_PATHS, type TelemetryMessage } from '../../src/protocol/index.ts';
import { PG_URL } from '../cloud/services.ts';
import { waitFor, type SimDevice } from '../cloud/sim-device.ts';
import { DATABASES, metricValue, startCloud, telemetryRecord, type Cloud } from './harness.ts';

const telemetryOf = (d: SimDevice, i: number, variant = 'fp32'): TelemetryMessage =>
  telemetryRecord(d, i, { model: { name: 'victim-model', version: '1.0.0', variant } });

const clouds: Cloud[] = [];
afterEach(async () => {
  for (const c of clouds.splice(0)) await c.close().catch(() => undefined);
});

for (const db of DATABASES) {
  describe.skipIf(db.skip !== null)(`poison telemetry over ${db.kind}`, () => {
    it('a NUL in a string field is refused at the protocol boundary; honest telemetry keeps being stored', async () => {
      const cloud = await startCloud(db.kind);
      clouds.push(cloud);
      const attacker = await cloud.device('attacker');
      const honest = await cloud.device('honest');
      // the attack: JSON.stringify writes U+0000 as the escape \u0000, as any client library would
      const poison = Buffer.from(JSON.stringify(telemetryOf(attacker, 0, 'x\u0000')));
      expect(poison.toString()).toContain('\\u0000');
      await attacker.publish('telemetry', {} as never, poison);
      for (let i = 0; i < 50; i++)
        await honest.publish('telemetry', {} as never, encodeMessage('telemetry', telemetryOf(honest, i)));
      // the attacker keeps sending, interleaved with honest traffic
      await attacker.publish(
        'telemetry',
        {} as never,
        Buffer.from(JSON.stringify(telemetryOf(attacker, 1, 'y\u0000'))),
      );
      for (let i = 50; i < 100; i++)
        await honest.publish('telemetry', {} as never, encodeMessage('telemetry', telemetryOf(honest, i)));
      await waitFor(async () => {
        await cloud.cp.flush();
        return (await cloud.cp.repos.telemetry.totals()).messages === 100;
      }, 'the 100 records of the honest device stored');
      expect(await metricValue(cloud.cp, 'verge_messages_rejected_total', { verb: 'telemetry' })).toBe(2);
      const health = await fetch(cloud.url + '/healthz');
      expect(health.status).toBe(200);
      expect(((await health.json()) as { ingestion: { pending: number } }).ingestion.pending).toBe(0);
    });

    it("a poison record inside a telemetry batch is refused alone; the batch's other records are stored", async () => {
      const cloud = await startCloud(db.kind);
      clouds.push(cloud);
      const attacker = await cloud.device('batch-attacker');
      const honest = await cloud.device('batch-honest');
      const raw = (m: unknown) => Buffer.from(JSON.stringify(m));
      // a batch as a device sends it (records = telemetry messages as JSON), with three bad ones
      // among valid records of its own: a NUL, an invalid field, another device's id
      const records = [
        raw(telemetryOf(attacker, 0)),
        raw(telemetryOf(attacker, 1, 'x\u0000')),
        raw(telemetryOf(attacker, 2)),
        raw({ ...telemetryOf(attacker, 3), inferences: -1 }),
        raw({ ...telemetryOf(attacker, 4), device_id: honest.id }),
        raw(telemetryOf(attacker, 5)),
      ];
      await attacker.publish('telemetry', {} as never, encodeTelemetryBatch(attacker.id, records));
      for (let i = 0; i < 20; i++)
        await honest.publish('telemetry', {} as never, encodeMessage('telemetry', telemetryOf(honest, i)));
      await waitFor(async () => {
        await cloud.cp.flush();
        return (await cloud.cp.repos.telemetry.totals()).messages === 23;
      }, 'the 3 valid records of the batch and the 20 honest ones stored');
      expect(await cloud.cp.repos.telemetry.ofDevice(attacker.id, 0, Date.now() + 60_000, 100)).toHaveLength(3);
      expect(await metricValue(cloud.cp, 'verge_messages_rejected_total', { verb: 'telemetry' })).toBe(3);
      expect((await cloud.cp.repos.telemetry.deadLetters()).length).toBe(0);
    });

    it('a NUL in an HTTP request is a 400 with the error shape, not a 500', async () => {
      const cloud = await startCloud(db.kind);
      clouds.push(cloud);
      const res = await fetch(cloud.url + HTTP_PATHS.enrollTokens, {
        method: 'POST',
        headers: { authorization: `Bearer ${cloud.cp.adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tags: { site: 'a\u0000b' } }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('E_PROTOCOL');
      expect(body.error.message).toMatch(/NUL/);
      const path = await fetch(cloud.url + HTTP_PATHS.device('dev').replace(/dev$/, 'dev%00x'), {
        headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
      });
      expect(path.status).toBe(400);
    });
  });
}

/**
 * Below the protocol boundary: a record the database itself refuses (on PostgreSQL a NUL, on
 * SQLite a NOT NULL violation) must be dead-lettered alone, never block the batch it rides in.
 */
for (const db of DATABASES) {
  describe.skipIf(db.skip !== null)(`telemetry ingestion over ${db.kind}`, () => {
    it('dead-letters a record the database refuses and stores the rest of its batch', async () => {
      const cloud = await startCloud(db.kind);
      clouds.push(cloud);
      const honest = await cloud.device('batch-honest');
      const metrics = new ControlPlaneMetrics(
        async () => ({ online: 0, offline: 0, revoked: 0 }),
        () => 0,
      );
      const repo: TelemetryRepository = cloud.cp.repos.telemetry;
      const ingest = new TelemetryIngest(repo, metrics, () => undefined);
      const poison =
        db.kind === 'postgres'
          ? telemetryOf(honest, 999, 'x\u0000')
          : ({ ...telemetryOf(honest, 999), device_id: null } as unknown as TelemetryMessage);
      for (let i = 0; i < 500; i++) {
        ingest.push(telemetryOf(honest, i));
        if (i === 333) ingest.push(poison);
      }
      await ingest.flush();
      expect(ingest.pending).toBe(0);
      expect((await repo.totals()).messages).toBe(500);
      const dead = await repo.deadLetters();
      expect(dead).toHaveLength(1);
      expect(dead[0]!.id).toBe(poison.id);
      expect(JSON.parse(dead[0]!.payload).id).toBe(poison.id);
      const m = (await metrics.registry.getSingleMetric('verge_telemetry_records_total')!.get()).values;
      expect(m.find((x) => x.labels.result === 'dead_letter')?.value).toBe(1);
      expect(m.find((x) => x.labels.result === 'accepted')?.value).toBe(500);
      expect(ingest.health().stalled).toBe(false);
    });
  });
}

const pgCase = DATABASES.find((d) => d.kind === 'postgres')!;
describe.skipIf(pgCase.skip !== null)('a database that refuses every write (PostgreSQL)', () => {
  it('is reported by /healthz, and shutdown spools the buffer within its deadline for the next start', async () => {
    const cloud = await startCloud('postgres');
    const honest = await cloud.device('outage-honest');
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      // every insert now fails for a reason that is not the record's (42P01 undefined table)
      await admin.query(`ALTER TABLE ${cloud.schema}.telemetry RENAME TO telemetry_away`);
      // sent at once, as an agent's outbox does; none may be acknowledged while it cannot be stored
      let acked = 0;
      for (let i = 0; i < 30; i++)
        void honest.publish('telemetry', {} as never, encodeMessage('telemetry', telemetryOf(honest, i))).then(
          () => acked++,
          () => undefined,
        );
      const stalled = await waitFor(
        async () => {
          const r = await fetch(cloud.url + '/healthz');
          return r.status === 503 ? ((await r.json()) as { ok: boolean; ingestion: Record<string, unknown> }) : null;
        },
        'healthz reports the stall',
        30_000,
      );
      expect(stalled.ok).toBe(false);
      const pending = stalled.ingestion.pending as number;
      expect(pending).toBeGreaterThan(0);
      expect(String(stalled.ingestion.last_error)).toMatch(/telemetry/);
      expect(acked).toBe(0);
      // SIGTERM path: close returns within its deadline although the database still refuses
      const t0 = Date.now();
      await cloud.close(true);
      expect(Date.now() - t0).toBeLessThan(20_000);
      const spool = join(cloud.dataDir, 'telemetry-spool.jsonl');
      expect(existsSync(spool)).toBe(true);
      const spooled = readFileSync(spool, 'utf8').trim().split('\n').length;
      expect(spooled).toBeGreaterThanOrEqual(pending);
      expect(acked).toBe(0);
      // the database is back: the next start stores what the last one spooled
      await admin.query(`ALTER TABLE ${cloud.schema}.telemetry_away RENAME TO telemetry`);
      const next = await startCloud('postgres', { reuse: { dataDir: cloud.dataDir, schema: cloud.schema } });
      clouds.push(next);
      expect((await next.cp.repos.telemetry.totals()).messages).toBe(spooled);
      expect(existsSync(spool)).toBe(false);
    } finally {
      await admin.end();
    }
  }, 60_000);
});
