/**
 * Telemetry ingestion pieces on their own: the repository's deduplicating insert (SQLite, and
 * PostgreSQL when present), TelemetryIngest's buffering across database failures, and the service
 * MQTT client under a burst larger than an external broker's session queue and sending a receipts
 * flush (QoS 0 to many devices at once).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/cloud/db/migrations.ts';
import { PostgresDatabase } from '../../src/cloud/db/postgres.ts';
import type { SqlDatabase } from '../../src/cloud/db/sql.ts';
import { SqliteDatabase } from '../../src/cloud/db/sqlite.ts';
import { CloudMessaging } from '../../src/cloud/messaging.ts';
import { ControlPlaneMetrics } from '../../src/cloud/metrics.ts';
import { TelemetryRepository } from '../../src/cloud/repositories/index.ts';
import { TelemetryIngest } from '../../src/cloud/telemetry.ts';
import {
  deviceTopic,
  emptyHistogram,
  observeLatency,
  TOPIC_ROOT,
  type TelemetryMessage,
} from '../../src/protocol/index.ts';
import { waitUntil } from '../e2e/harness.ts';
import { mosquittoSkipReason, startAedes, startMosquitto } from '../edge/brokers.ts';
import { dropSchema, PG_URL, postgresAvailable, uniqueSchema } from './services.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function record(id: string, over: Partial<TelemetryMessage> = {}): TelemetryMessage {
  const latency_ms = emptyHistogram();
  observeLatency(latency_ms, 3);
  return {
    v: 1,
    id,
    ts: 1,
    device_id: 'dev-telemetry',
    window_start: 1000,
    window_end: 2000,
    model: { name: 'm', version: '1.0.0', variant: 'fp32' },
    deployment_id: null,
    inferences: 2,
    errors: 1,
    latency_ms,
    ...over,
  } as TelemetryMessage;
}

const ids = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`);

const pgSkip = await postgresAvailable();
if (pgSkip && process.env.CI === 'true') throw new Error(`required service missing under CI: ${pgSkip}`);
const databases: {
  name: string;
  skip: string | null;
  open: () => Promise<{ db: SqlDatabase; drop: () => Promise<void> }>;
}[] = [
  {
    name: 'SQLite',
    skip: null,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'verge-telemetry-test-'));
      dirs.push(dir);
      return { db: new SqliteDatabase(join(dir, 'verge.db')), drop: async () => undefined };
    },
  },
  {
    name: 'PostgreSQL',
    skip: pgSkip,
    open: async () => {
      const schema = uniqueSchema();
      return { db: new PostgresDatabase(PG_URL, schema), drop: () => dropSchema(schema) };
    },
  },
];

for (const d of databases) {
  describe.skipIf(d.skip !== null)(`TelemetryRepository.insert over ${d.name}`, () => {
    it('stores each message id once and returns exactly the records seen for the first time', async () => {
      const { db, drop } = await d.open();
      try {
        await db.migrate(MIGRATIONS);
        const repo = new TelemetryRepository(db);
        // 250 rows: more than one multi-row statement on PostgreSQL; a duplicate inside the batch
        const first = ids(250, 'a').map((id) => record(id));
        const fresh1 = await repo.insert([...first, record(first[7]!.id, { inferences: 99 })]);
        expect(fresh1.map((t) => t.id)).toEqual(first.map((t) => t.id));
        expect(fresh1[7]!.inferences).toBe(2); // the first copy of a duplicated id wins
        // a redelivery of 100 known ids mixed with 50 new ones
        const again = [...first.slice(100, 200), ...ids(50, 'b').map((id) => record(id, { results: { cat: 3 } }))];
        const fresh2 = await repo.insert(again);
        expect(fresh2.map((t) => t.id)).toEqual(ids(50, 'b'));
        expect(await repo.insert(again)).toEqual([]);
        expect(await repo.totals()).toEqual({ messages: 300, inferences: 600, errors: 300 });
        const rows = await repo.since(0, 'm');
        expect(rows).toHaveLength(300);
        const b0 = rows.find((r) => r.results !== null)!;
        expect(JSON.parse(b0.results!)).toEqual({ cat: 3 });
        expect(JSON.parse(b0.latency)).toEqual(record('x').latency_ms);
      } finally {
        await db.close();
        await drop();
      }
    });
  });
}

describe('TelemetryIngest', () => {
  function setup(insert: (batch: TelemetryMessage[]) => Promise<TelemetryMessage[]>) {
    const metrics = new ControlPlaneMetrics(
      async () => ({ online: 0, offline: 0, revoked: 0 }),
      () => 0,
    );
    const fresh: TelemetryMessage[] = [];
    const repo = { insert } as unknown as TelemetryRepository;
    const ingest = new TelemetryIngest(repo, metrics, (f) => {
      for (const t of f) fresh.push(t);
    });
    const counter = async (name: string, labels: Record<string, string>) => {
      const m = await metrics.registry.getSingleMetric(name)!.get();
      const v = m.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
      return v?.value ?? 0;
    };
    return { ingest, fresh, counter };
  }

  it('keeps every buffered record through a database outage, however many, and writes each once after it', async () => {
    const stored = new Map<string, TelemetryMessage>();
    let down = true;
    let attempts = 0;
    const { ingest, fresh, counter } = setup(async (batch) => {
      attempts++;
      if (down) throw new Error('database unavailable');
      const out = batch.filter((t) => !stored.has(t.id));
      for (const t of out) stored.set(t.id, t);
      return out;
    });
    // more records than a function call can take as spread arguments
    const n = 300_000;
    const shared = record('shared-template');
    for (let i = 0; i < n; i++) ingest.push({ ...shared, id: `r-${i}` });
    await ingest.flush();
    expect(ingest.pending).toBe(n);
    const failedAttempts = attempts;
    // while failing, new records buffer behind the old ones without a write per push
    for (let i = n; i < n + 5000; i++) ingest.push({ ...shared, id: `r-${i}` });
    expect(attempts).toBe(failedAttempts);
    expect(ingest.pending).toBe(n + 5000);
    down = false;
    await ingest.flush();
    expect(ingest.pending).toBe(0);
    expect(stored.size).toBe(n + 5000);
    expect(stored.has('r-0') && stored.has(`r-${n + 4999}`)).toBe(true);
    expect(fresh).toHaveLength(n + 5000);
    expect(await counter('verge_telemetry_records_total', { result: 'accepted' })).toBe(n + 5000);
    expect(await counter('verge_inferences_total', { model: 'm', version: '1.0.0' })).toBe(2 * (n + 5000));
    await ingest.close();
  });

  it('a throwing onFresh listener neither re-writes the batch nor stops later flushes', async () => {
    const written: string[] = [];
    const metrics = new ControlPlaneMetrics(
      async () => ({ online: 0, offline: 0, revoked: 0 }),
      () => 0,
    );
    const repo = {
      insert: async (batch: TelemetryMessage[]) => {
        for (const t of batch) written.push(t.id);
        return batch;
      },
    } as unknown as TelemetryRepository;
    const ingest = new TelemetryIngest(repo, metrics, () => {
      throw new Error('listener failed');
    });
    ingest.push(record('first-aaaaaaaa'));
    await ingest.flush();
    ingest.push(record('second-aaaaaaaa'));
    await ingest.flush();
    expect(written).toEqual(['first-aaaaaaaa', 'second-aaaaaaaa']);
    expect(ingest.pending).toBe(0);
  });

  it('counts duplicates apart, and inferences and errors per model version from fresh records only', async () => {
    const seen = new Set<string>();
    const { ingest, counter } = setup(async (batch) => batch.filter((t) => !seen.has(t.id) && (seen.add(t.id), true)));
    ingest.push(record('m1-aaaaaaaa', { inferences: 5, errors: 1 }));
    ingest.push(record('m1-bbbbbbbb', { inferences: 7, errors: 0 }));
    ingest.push(
      record('m2-aaaaaaaa', { inferences: 11, errors: 2, model: { name: 'm', version: '2.0.0', variant: 'int8' } }),
    );
    await ingest.flush();
    ingest.push(record('m1-aaaaaaaa', { inferences: 5, errors: 1 })); // redelivery
    ingest.push(
      record('n1-aaaaaaaa', { inferences: 3, errors: 3, model: { name: 'n', version: '1.0.0', variant: 'fp32' } }),
    );
    await ingest.close();
    expect(await counter('verge_telemetry_records_total', { result: 'accepted' })).toBe(4);
    expect(await counter('verge_telemetry_records_total', { result: 'duplicate' })).toBe(1);
    expect(await counter('verge_inferences_total', { model: 'm', version: '1.0.0' })).toBe(12);
    expect(await counter('verge_inference_errors_total', { model: 'm', version: '1.0.0' })).toBe(1);
    expect(await counter('verge_inferences_total', { model: 'm', version: '2.0.0' })).toBe(11);
    expect(await counter('verge_inference_errors_total', { model: 'n', version: '1.0.0' })).toBe(3);
  });
});

const mosquittoSkip = mosquittoSkipReason();
describe.skipIf(mosquittoSkip !== undefined)('CloudMessaging on Mosquitto', () => {
  it('receives a QoS 1 burst larger than the broker session queue without losing a message', async () => {
    // the test broker holds at most 10,000 queued messages per client (test/edge/brokers.ts)
    const broker = await startMosquitto();
    const received = new Set<string>();
    let messaging: CloudMessaging | undefined;
    const devices: mqtt.MqttClient[] = [];
    try {
      messaging = await CloudMessaging.connect({
        url: broker.url,
        clientId: `verge-cloud-burst-${process.pid}`,
        external: true,
        persistentSession: true,
        onMessage: async (deviceId, verb, payload) => {
          received.add(`${deviceId}/${verb}/${payload.toString()}`);
        },
      });
      const perDevice = 150;
      for (let i = 0; i < 100; i++)
        devices.push(await mqtt.connectAsync(broker.url, { clientId: `burst-${i}`, reconnectPeriod: 0 }));
      await Promise.all(
        devices.map((c, i) =>
          Promise.all(
            Array.from({ length: perDevice }, (_, k) =>
              c.publishAsync(deviceTopic(`dev-burst-${i}`, 'telemetry'), Buffer.from(`m${k}`), { qos: 1 }),
            ),
          ),
        ),
      );
      const total = devices.length * perDevice;
      const until = Date.now() + 30_000;
      let last = -1;
      let lastChange = Date.now();
      while (received.size < total && Date.now() < until && Date.now() - lastChange < 5000) {
        if (received.size !== last) [last, lastChange] = [received.size, Date.now()];
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(received.size).toBe(total);
    } finally {
      await Promise.all(devices.map((c) => c.endAsync().catch(() => undefined)));
      await messaging?.close();
      await broker.close();
    }
  }, 60_000);
});

describe('CloudMessaging publishing at QoS 0', () => {
  it('a receipts flush to 1,500 devices at once: every receipt arrives, without a socket listener per message', async () => {
    // A receipts flush (telemetry-receipts.ts) publishes to every device in one synchronous loop.
    // Each QoS 0 publish waited for its write callback, and mqtt.js hangs that callback on the
    // socket's 'drain' event once its buffer is full: one listener per receipt beyond ~16 kB
    // (MaxListenersExceededWarning past 1,000 on Mosquitto in bench/fleet), each with a timer here.
    const broker = await startAedes();
    const warnings: string[] = [];
    const onWarning = (w: Error) => {
      if (w.name === 'MaxListenersExceededWarning') warnings.push(w.message);
    };
    process.on('warning', onWarning);
    let messaging: CloudMessaging | undefined;
    const sub = await mqtt.connectAsync(broker.url, { clientId: `receipts-sub-${process.pid}`, reconnectPeriod: 0 });
    try {
      let received = 0;
      sub.on('message', () => received++);
      await sub.subscribeAsync(`${TOPIC_ROOT}/dev/+/command`, { qos: 0 });
      messaging = await CloudMessaging.connect({
        url: broker.url,
        clientId: `verge-cloud-receipts-${process.pid}`,
        external: false,
        onMessage: async () => undefined,
      });
      const ids = Array.from({ length: 20 }, () => randomUUID());
      const devices = 1500; // mqtt.js warns past 1,000 listeners on its socket
      await Promise.all(
        Array.from({ length: devices }, (_, i) =>
          messaging!.publish(
            `dev-receipts-${i}`,
            'command',
            { device_id: `dev-receipts-${i}`, command: 'receipt', telemetry: ids },
            0,
          ),
        ),
      );
      await waitUntil(() => received === devices, 30_000, 'every receipt delivered');
      await new Promise((r) => setTimeout(r, 50)); // warnings are emitted on a later tick
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await sub.endAsync().catch(() => undefined);
      await messaging?.close();
      await broker.close();
    }
  }, 60_000);
});
