/**
 * The dashboard's live data against a real control plane and a simulated device over real MQTT:
 * GET /v1/events (server-sent events after each stored change; operator keys only; streams end
 * when the control plane closes) and GET /v1/devices/:id/telemetry (one device's series).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FLEET_EVENT_NAME,
  HTTP_PATHS,
  emptyHistogram,
  observeLatency,
  type ApiKeyResponse,
  type DeviceTelemetryResponse,
  type FleetEvent,
} from '../../src/protocol/index.ts';
import { MAX_EVENT_STREAMS } from '../../src/cloud/plugins/events.ts';
import { TestCloud } from '../e2e/harness.ts';
import { seedCnnBytes } from '../edge/models.ts';
import { SimDevice, waitFor } from './sim-device.ts';

/** Read an event stream into `events` until aborted. */
async function listen(url: string, key: string, events: FleetEvent[], signal: AbortSignal): Promise<Response> {
  const res = await fetch(url + HTTP_PATHS.events, { headers: { authorization: `Bearer ${key}` }, signal });
  if (res.ok && res.body) {
    void (async () => {
      let buf = '';
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) {
          buf += decoder.decode(chunk as Uint8Array, { stream: true });
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const data = /^data: (.*)$/m.exec(block);
            if (block.startsWith(`event: ${FLEET_EVENT_NAME}`) && data) events.push(JSON.parse(data[1]!) as FleetEvent);
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return res;
}

describe('live fleet data: event stream and device series', () => {
  let cloud: TestCloud;
  let device: SimDevice;
  let readKey: string;
  const abort = new AbortController();

  beforeAll(async () => {
    cloud = await TestCloud.start();
    readKey = (await cloud.admin.post<ApiKeyResponse>(HTTP_PATHS.apiKeys, { role: 'read-only' })).key;
  }, 60_000);
  afterAll(async () => {
    abort.abort();
    await device?.close();
    await cloud?.close();
  });

  it('refuses the stream without an operator key', async () => {
    const res = await fetch(cloud.url + HTTP_PATHS.events);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_AUTH');
  });

  it('tells a read-only listener what changed, after it is stored', async () => {
    const events: FleetEvent[] = [];
    const res = await listen(cloud.url, readKey, events, abort.signal);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const has = (topic: string) => events.some((e) => e.topic === topic);

    device = await SimDevice.create(cloud.url, await cloud.token(), 'live-1');
    await device.connect();
    await waitFor(() => has('devices'), 'a devices event after enrollment and status');

    await cloud.publish('live-model', '1.0.0', seedCnnBytes());
    await waitFor(() => has('models'), 'a models event after a publish');

    const h = emptyHistogram();
    for (let i = 0; i < 4; i++) observeLatency(h, 3);
    await device.publish('telemetry', {
      device_id: device.id,
      window_start: Date.now() - 1000,
      window_end: Date.now(),
      model: { name: 'live-model', version: '1.0.0', variant: 'fp32' },
      deployment_id: null,
      inferences: 4,
      errors: 1,
      latency_ms: h,
      results: { sneaker: 3, bag: 1 },
    });
    await waitFor(() => has('telemetry'), 'a telemetry event after ingestion');
    for (const e of events) expect(Object.keys(e).sort()).toEqual(['at', 'topic']); // names a topic, never data
  }, 60_000);

  it('serves one device’s telemetry as a series, by id or name, with bounds checked', async () => {
    const series = await cloud.admin.get<DeviceTelemetryResponse>(
      `${HTTP_PATHS.deviceTelemetry('live-1')}?since=${Date.now() - 60_000}&bucket_s=5`,
    );
    expect(series.device_id).toBe(device.id);
    expect(series.bucket_ms).toBe(5000);
    expect(series.models).toEqual([{ name: 'live-model', version: '1.0.0', variant: 'fp32' }]);
    const total = series.points.reduce((n, p) => n + p.inferences, 0);
    expect(total).toBe(4);
    const p = series.points.find((x) => x.inferences > 0)!;
    expect(p.errors).toBe(1);
    expect(p.results).toEqual({ sneaker: 3, bag: 1 });
    expect(p.p50_ms).toBe(5); // the histogram bucket (2, 5] holds 3 ms
    expect(p.throughput).toBeCloseTo(4 / 5);

    const bad = await fetch(`${cloud.url}${HTTP_PATHS.deviceTelemetry(device.id)}?since=1`, {
      headers: { authorization: `Bearer ${readKey}` },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string; message: string } }).error.message).toMatch(/since/);
    const unknown = await fetch(`${cloud.url}${HTTP_PATHS.deviceTelemetry('no-such-device')}`, {
      headers: { authorization: `Bearer ${readKey}` },
    });
    expect(unknown.status).toBe(404);
    // a long window is widened to at most DEVICE_TELEMETRY_MAX_BUCKETS buckets
    const day = await cloud.admin.get<DeviceTelemetryResponse>(
      `${HTTP_PATHS.deviceTelemetry(device.id)}?since=${Date.now() - 23 * 3600_000}&bucket_s=1`,
    );
    expect(day.bucket_ms).toBeGreaterThanOrEqual((23 * 3600_000) / 360);
  }, 30_000);

  it('bounds the open streams, and ends them when the control plane closes (close does not hang)', async () => {
    const events: FleetEvent[] = [];
    let opened = 0;
    let refused: Response | null = null;
    for (let i = 0; i <= MAX_EVENT_STREAMS && !refused; i++) {
      const res = await listen(cloud.url, readKey, events, abort.signal);
      if (res.status === 200) opened++;
      else refused = res;
    }
    expect(refused?.status).toBe(429);
    expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe('E_OVERLOADED');
    expect(opened).toBeGreaterThanOrEqual(MAX_EVENT_STREAMS - 1); // one stream is still open from the test above
    const t0 = Date.now();
    await cloud.down();
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 30_000);
});
