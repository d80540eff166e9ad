/**
 * Finding 3 (medium): no size limits on device messages. One 4.7 MB telemetry message (400k
 * result keys) froze the cloud for seconds and slowed `GET /v1/telemetry` for an hour; heartbeat
 * model lists were unbounded; the embedded broker had no packet cap. Attacked here with an
 * enrolled device over MQTT against the embedded broker and a control plane over SQLite, and
 * against a private Mosquitto configured only with what the control plane generates.
 */
import mqtt from 'mqtt';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  deviceTopic,
  HTTP_PATHS,
  MAX_MQTT_PACKET_BYTES,
  MAX_RESULT_KEYS,
  type TelemetryMessage,
  type TelemetrySummaryResponse,
} from '../../src/protocol/index.ts';
import { PROFILE_X64, waitFor, type SimDevice } from '../cloud/sim-device.ts';
import { mosquittoSkipReason } from '../edge/brokers.ts';
import {
  metricValue,
  startCloud,
  startMosquittoCloud,
  telemetryRecord,
  type Cloud,
  type MosquittoCloud,
} from './harness.ts';

const telemetry = (d: SimDevice, i: number, extra: Partial<TelemetryMessage> = {}): TelemetryMessage =>
  telemetryRecord(d, i, { tag: 's', model: { name: 'size-model', version: '1.0.0', variant: 'fp32' }, ...extra });

/** `n` distinct result classes, `class-000001` → 1 … (the 400k-key message of the review is ~4.7 MB). */
function manyResults(n: number, prefix = 'class'): Record<string, number> {
  const r: Record<string, number> = {};
  for (let i = 0; i < n; i++) r[`${prefix}-${String(i).padStart(6, '0')}`] = 1;
  return r;
}

const raw = (m: unknown) => Buffer.from(JSON.stringify(m));

const clouds: Cloud[] = [];
afterEach(async () => {
  for (const c of clouds.splice(0)) await c.close().catch(() => undefined);
});

describe('oversized device messages (embedded broker, SQLite)', () => {
  it('the broker closes a connection announcing a packet above its cap, before buffering it', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const attacker = await cloud.device('size-attacker');
    const honest = await cloud.device('size-honest');
    const huge = raw(telemetry(attacker, 0, { results: manyResults(400_000) }));
    expect(huge.length).toBeGreaterThan(4 * MAX_MQTT_PACKET_BYTES);
    const closed = new Promise<void>((resolve) => attacker.client!.once('close', () => resolve()));
    attacker.client!.publish(deviceTopic(attacker.id, 'telemetry'), huge, { qos: 1 }, () => undefined);
    await closed;
    for (let i = 0; i < 20; i++) await honest.publish('telemetry', {} as never, raw(telemetry(honest, i)));
    await waitFor(async () => {
      await cloud.cp.flush();
      return (await cloud.cp.repos.telemetry.totals()).messages === 20;
    }, "the honest device's 20 records stored");
    // the attacker's record never reached the database
    expect((await cloud.cp.repos.telemetry.totals()).messages).toBe(20);
    expect((await cloud.admin.get<{ ok: boolean }>(HTTP_PATHS.health)).ok).toBe(true);
  }, 60_000);

  it('telemetry and heartbeats over the message or field caps are refused and counted', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const attacker = await cloud.device('caps-attacker');
    const before = await metricValue(cloud.cp, 'verge_messages_rejected_total', { verb: 'telemetry' });
    // under the packet cap but over the device-message cap (~100 KB)
    await attacker.publish('telemetry', {} as never, raw(telemetry(attacker, 1, { results: manyResults(5000) })));
    // small (~8 KB) but over the result-key cap
    await attacker.publish(
      'telemetry',
      {} as never,
      raw(telemetry(attacker, 2, { results: manyResults(MAX_RESULT_KEYS + 1, 'c') })),
    );
    // heartbeats: 5,000 model names (~700 KB), and 100 (~14 KB, over the list cap)
    const served = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        name: `fake-model-${i}`,
        version: '1.0.0',
        variant: 'fp32',
        sha256: 'a'.repeat(64),
        deployment_id: null,
      }));
    for (const n of [5000, 100])
      await attacker.publish(
        'heartbeat',
        {} as never,
        raw({
          v: 1,
          id: `hb-${n}-xxxxxxxx`,
          ts: Date.now(),
          device_id: attacker.id,
          uptime_s: 1,
          profile: PROFILE_X64,
          models: served(n),
          queue_depth: 0,
        }),
      );
    // the limit still admits what an honest device sends: MAX_RESULT_KEYS classes
    await attacker.publish(
      'telemetry',
      {} as never,
      raw(telemetry(attacker, 3, { results: manyResults(MAX_RESULT_KEYS, 'ok') })),
    );
    await waitFor(async () => {
      await cloud.cp.flush();
      return (await cloud.cp.repos.telemetry.totals()).messages === 1;
    }, 'the honest-sized record stored');
    await waitFor(
      async () => (await metricValue(cloud.cp, 'verge_messages_rejected_total', { verb: 'heartbeat' })) === 2,
      'both heartbeats refused',
    );
    expect(await metricValue(cloud.cp, 'verge_messages_rejected_total', { verb: 'telemetry' })).toBe(before + 2);
    const dev = await cloud.admin.get<{ models: unknown[] }>(HTTP_PATHS.device(attacker.id));
    expect(dev.models).toHaveLength(0);
  }, 60_000);

  it('GET /v1/telemetry answers one bounded page, whatever devices report', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const attacker = await cloud.device('page-attacker');
    // 150 model names, then 4 records of 200 distinct classes each for one model
    for (let i = 0; i < 150; i++)
      await attacker.publish(
        'telemetry',
        {} as never,
        raw(telemetry(attacker, i, { model: { name: `m${i}`, version: '1.0.0', variant: 'fp32' } })),
      );
    for (let i = 0; i < 4; i++)
      await attacker.publish(
        'telemetry',
        {} as never,
        raw(telemetry(attacker, 1000 + i, { results: manyResults(200, `k${i}`), inferences: 5 })),
      );
    await waitFor(async () => {
      await cloud.cp.flush();
      return (await cloud.cp.repos.telemetry.totals()).messages === 154;
    }, 'all records stored');
    const page = await cloud.admin.get<TelemetrySummaryResponse>(`${HTTP_PATHS.telemetry}?since=0`);
    expect(page.total).toBe(151);
    expect(page.models).toHaveLength(100);
    // most inferences first: the model with the many classes, its classes capped
    const top = page.models[0]!;
    expect(top.name).toBe('size-model');
    expect(Object.keys(top.results)).toHaveLength(MAX_RESULT_KEYS + 1);
    expect(top.results._other).toBe(800 - MAX_RESULT_KEYS);
    const next = await cloud.admin.get<TelemetrySummaryResponse>(
      `${HTTP_PATHS.telemetry}?since=0&limit=100&offset=100`,
    );
    expect(next.models).toHaveLength(51);
  }, 60_000);
});

const skip = mosquittoSkipReason();
if (skip) console.warn(`[skip] ${skip}`);

describe.skipIf(skip !== undefined)('oversized packets on an external Mosquitto', () => {
  let m: MosquittoCloud;
  afterAll(async () => {
    await m?.close();
  });

  it("the generated configuration caps packets: a 4.7 MB publish is refused and the device's connection closed", async () => {
    m = await startMosquittoCloud('verge-size-');
    const attacker = await m.enroll('mosq-size-attacker');
    const client = await waitFor(
      () =>
        mqtt
          .connectAsync(
            m.brokerUrl,
            {
              clientId: attacker.id,
              username: attacker.id,
              password: attacker.enrollment.credentials.password,
              reconnectPeriod: 0,
            },
            false,
          )
          .catch(() => null),
      'attacker accepted after reload',
    );
    client.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish(
      deviceTopic(attacker.id, 'telemetry'),
      raw(telemetry(attacker, 0, { results: manyResults(400_000) })),
      { qos: 1 },
      () => undefined,
    );
    await closed;
    await new Promise((r) => setTimeout(r, 500));
    await m.cp.flush();
    expect((await m.cp.repos.telemetry.totals()).messages).toBe(0);
    client.end(true);
  }, 60_000);
});
