/**
 * Issue 14 (finding 9 follow-up): `GET /v1/mqtt`, the WebSocket bridge to the broker, is an HTTP
 * upgrade and bypassed the request rate limits (Fastify's hooks never see it); and one client,
 * without any credential, could open every one of the 256 bridges (each holding a broker
 * connection) so that no browser device could join. Attacked here over real sockets on a real
 * control plane and its embedded broker, the attacker on its own loopback address (127.0.0.2),
 * an honest browser-style device on 127.0.0.1 connecting over the bridge with its credentials.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_MQTT_WS_CONNECTIONS, MAX_MQTT_WS_PER_ADDRESS } from '../../src/cloud/plugins/mqtt-ws.ts';
import { HTTP_PATHS, type EnrollTokenResponse } from '../../src/protocol/index.ts';
import { SimDevice } from '../cloud/sim-device.ts';
import { startCloud, type Cloud } from './harness.ts';

const clouds: Cloud[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const c of clouds.splice(0)) await c.close();
});

/** Open a bridge from `localAddress`: 'open', or the refusal's status and Retry-After. */
function upgrade(
  wsUrl: string,
  localAddress: string,
): Promise<{ open: true } | { status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, 'mqtt', { localAddress });
    sockets.push(ws);
    ws.once('open', () => resolve({ open: true }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
      res.resume();
    });
    ws.once('error', reject);
  });
}

/** Status of a plain GET from `localAddress`. */
function getFrom(url: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function wsDevice(cloud: Cloud, name: string): Promise<SimDevice> {
  const { token } = await cloud.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {});
  const d = await SimDevice.create(cloud.url, token, name);
  cloud.devices.push(d);
  await d.connect({ mqttUrl: cloud.url.replace(/^http/, 'ws') + HTTP_PATHS.mqtt });
  return d;
}

describe('MQTT over WebSocket bridge limits', () => {
  it('one address cannot hold every bridge: an honest device still joins', async () => {
    // rate limits off: the per-address cap alone is under test
    const cloud = await startCloud('sqlite', { rateLimits: false });
    clouds.push(cloud);
    const wsUrl = cloud.url.replace(/^http/, 'ws') + HTTP_PATHS.mqtt;
    const answers = await Promise.all(
      Array.from({ length: MAX_MQTT_WS_CONNECTIONS }, () => upgrade(wsUrl, '127.0.0.2')),
    );
    const opened = answers.filter((a) => 'open' in a).length;
    expect(opened).toBe(MAX_MQTT_WS_PER_ADDRESS);
    expect(answers.filter((a) => 'status' in a && a.status === 429 && a.retryAfter === '1')).toHaveLength(
      MAX_MQTT_WS_CONNECTIONS - MAX_MQTT_WS_PER_ADDRESS,
    );
    // a browser device elsewhere joins the fleet through the bridge while the attacker holds its share
    const d = await wsDevice(cloud, 'ws-honest');
    expect(await d.subscribe()).toEqual(expect.not.arrayContaining([128]));
    // the attacker's slots come back as its sockets close
    for (const s of sockets.splice(0)) s.terminate();
    await expect.poll(() => upgrade(wsUrl, '127.0.0.2'), { timeout: 10_000 }).toEqual({ open: true });
  }, 90_000);

  it('upgrades count in the address rate limit: a churning client gets 429, others are served', async () => {
    const cloud = await startCloud('sqlite', { rateLimits: { anonymousPerSecond: 1, anonymousBurst: 10 } });
    clouds.push(cloud);
    const wsUrl = cloud.url.replace(/^http/, 'ws') + HTTP_PATHS.mqtt;
    const answers = [];
    for (let i = 0; i < 20; i++) {
      const a = await upgrade(wsUrl, '127.0.0.2');
      answers.push(a);
      for (const s of sockets.splice(0)) s.terminate(); // open and drop: never near the per-address cap
    }
    const refused = answers.filter((a) => 'status' in a);
    expect(refused.length).toBeGreaterThanOrEqual(5);
    for (const a of refused) {
      expect(a).toMatchObject({ status: 429 });
      expect(Number((a as { retryAfter?: string }).retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // the same bucket as the address's HTTP requests; other addresses are untouched
    expect(await getFrom(`${cloud.url}${HTTP_PATHS.signingKey}`, '127.0.0.2')).toBe(429);
    expect(await getFrom(`${cloud.url}${HTTP_PATHS.signingKey}`, '127.0.0.3')).toBe(200);
    expect(await upgrade(wsUrl, '127.0.0.3')).toEqual({ open: true });
    const d = await wsDevice(cloud, 'ws-other');
    expect(await d.subscribe()).toEqual(expect.not.arrayContaining([128]));
  }, 90_000);
});
