/**
 * MQTT over WebSocket (GET /v1/mqtt): a device on a real control plane connects through the bridge
 * with its credentials, is seen online and receives what the cloud publishes to it; the broker's
 * authentication and ACLs hold over the bridge as on TCP; other upgrade paths are refused; close()
 * ends open bridges.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_PATHS, deviceTopic, type Device, type DevicesResponse } from '../../src/protocol/index.ts';
import { TestCloud } from '../e2e/harness.ts';
import { SimDevice, waitFor } from './sim-device.ts';

describe('MQTT over WebSocket on the control plane', () => {
  let cloud: TestCloud;
  let wsUrl: string;
  const devices: SimDevice[] = [];

  beforeAll(async () => {
    cloud = await TestCloud.start();
    wsUrl = cloud.url.replace(/^http/, 'ws') + HTTP_PATHS.mqtt;
  }, 60_000);
  afterAll(async () => {
    for (const d of devices) await d.close().catch(() => undefined);
    await cloud?.close();
  });

  it('a device connects with its credentials, is online and gets its commands', async () => {
    const d = await SimDevice.create(cloud.url, await cloud.token(), 'ws-dev-1');
    devices.push(d);
    await d.connect({ mqttUrl: wsUrl });
    expect(await d.subscribe()).toEqual(expect.not.arrayContaining([128]));
    await d.heartbeat();
    const seen = await waitFor(async () => {
      const r = await cloud.admin.get<DevicesResponse>(HTTP_PATHS.devices);
      return r.devices.find((x: Device) => x.id === d.id && x.status === 'online');
    }, 'the device online');
    expect(seen.name).toBe('ws-dev-1');
    // a command the cloud publishes reaches the device through the bridge
    await cloud.admin.post(HTTP_PATHS.revokeDevice(d.id), {});
    await waitFor(async () => d.commands.find((c) => c.command === 'revoked'), 'the revoked command');
  }, 60_000);

  it('refuses a wrong password and another device’s topics, as the broker does on TCP', async () => {
    const d = await SimDevice.create(cloud.url, await cloud.token(), 'ws-dev-2');
    devices.push(d);
    await expect(d.connect({ mqttUrl: wsUrl, password: 'not-the-password' })).rejects.toThrow();
    await d.connect({ mqttUrl: wsUrl });
    const other = deviceTopic('dev-someone-else', 'deploy');
    expect(await d.subscribe([other])).toEqual([128]);
  }, 60_000);

  it('answers other upgrade paths with 404 and a JSON error', async () => {
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(cloud.url + '/v1/not-mqtt', {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'E_NOT_FOUND', message: expect.any(String) } });
  });

  it('close() ends open bridges promptly', async () => {
    const c = await TestCloud.start();
    const d = await SimDevice.create(c.url, await c.token(), 'ws-dev-3');
    await d.connect({ mqttUrl: c.url.replace(/^http/, 'ws') + HTTP_PATHS.mqtt });
    const t0 = Date.now();
    await c.close();
    expect(Date.now() - t0).toBeLessThan(10_000);
    await d.close().catch(() => undefined);
  }, 60_000);
});
