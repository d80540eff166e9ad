/**
 * Retained messages on the embedded broker: a device's subscription to its own topic is answered
 * from an index by topic (broker.ts indexRetained), the control plane's wildcard subscriptions by
 * the store. Both must give what MQTT promises: the latest retained message of each matching topic,
 * none once cleared by an empty retained publish, none of another device.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/cloud/broker.ts';
import { cloudSubscriptions, deviceTopic } from '../../src/protocol/index.ts';
import { sleep } from '../e2e/harness.ts';

const SERVICE = { username: 'svc', password: 'svc-secret' };
let broker: EmbeddedBroker;
const clients: mqtt.MqttClient[] = [];

beforeAll(async () => {
  broker = await startEmbeddedBroker({
    service: SERVICE,
    acceptingDevices: () => true,
    authenticateDevice: async (id, password) => password === `pw-${id}`,
  });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true)));
  await broker.close();
});

async function connect(clientId: string, username: string, password: string): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync(broker.url, { clientId, username, password, reconnectPeriod: 0, clean: true });
  clients.push(c);
  return c;
}

/** The retained messages a new subscription to `filters` receives (topic → payload), after a quiet moment. */
async function retainedFor(c: mqtt.MqttClient, filters: string[]): Promise<Map<string, string>> {
  const got = new Map<string, string>();
  const counts = new Map<string, number>();
  c.on('message', (topic, payload, packet) => {
    if (!packet.retain) return;
    got.set(topic, payload.toString());
    counts.set(topic, (counts.get(topic) ?? 0) + 1);
  });
  const granted = await c.subscribeAsync(
    filters
      .map((f) => ({ topic: f, qos: 1 as const }))
      .reduce((o, s) => ({ ...o, [s.topic]: { qos: s.qos } }), {} as Record<string, { qos: 1 }>),
  );
  expect(granted.every((g) => g.qos === 1)).toBe(true);
  await sleep(300);
  // one retained message per topic, not one per matching filter or per stored version
  for (const [t, n] of counts) expect(n, t).toBe(1);
  return got;
}

it('a device gets the latest retained message of its own topics only; a cleared one is gone', async () => {
  const svc = await connect('svc-client', SERVICE.username, SERVICE.password);
  const [a, b, d] = ['dev-aaa', 'dev-bbb', 'dev-ddd'];
  await svc.publishAsync(deviceTopic(a, 'deploy'), 'a1', { qos: 1, retain: true });
  await svc.publishAsync(deviceTopic(a, 'deploy'), 'a2', { qos: 1, retain: true }); // replaces a1
  await svc.publishAsync(deviceTopic(a, 'fl'), 'a-fl', { qos: 1, retain: true });
  await svc.publishAsync(deviceTopic(b, 'deploy'), 'b1', { qos: 1, retain: true });
  await svc.publishAsync(deviceTopic(d, 'deploy'), 'd1', { qos: 1, retain: true });
  await svc.publishAsync(deviceTopic(d, 'deploy'), Buffer.alloc(0), { qos: 1, retain: true }); // cleared

  const devA = await connect(a, a, `pw-${a}`);
  const gotA = await retainedFor(devA, [deviceTopic(a, 'deploy'), deviceTopic(a, 'fl'), deviceTopic(a, 'command')]);
  expect(Object.fromEntries(gotA)).toEqual({ [deviceTopic(a, 'deploy')]: 'a2', [deviceTopic(a, 'fl')]: 'a-fl' });

  const devD = await connect(d, d, `pw-${d}`);
  expect((await retainedFor(devD, [deviceTopic(d, 'deploy')])).size).toBe(0);

  // another device's topic is refused (SUBACK 0x80), so nothing of it arrives
  const devB = await connect(b, b, `pw-${b}`);
  const seen: string[] = [];
  devB.on('message', (t) => seen.push(t));
  await expect(devB.subscribeAsync(deviceTopic(a, 'deploy'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
  await sleep(300);
  expect(seen).toEqual([]);
});

it('a retained message stored while a device is online reaches its next subscription; wildcards see every topic', async () => {
  const svc = await connect('svc-client-2', SERVICE.username, SERVICE.password);
  const e = 'dev-eee';
  const devE = await connect(e, e, `pw-${e}`);
  await devE.publishAsync(deviceTopic(e, 'status'), 'online', { qos: 1, retain: true });
  await svc.publishAsync(deviceTopic(e, 'deploy'), 'e1', { qos: 1, retain: true });
  const again = await connect('svc-client-3', SERVICE.username, SERVICE.password);
  const wildcards = cloudSubscriptions(['heartbeat', 'telemetry', 'ack']); // +/status
  const all = await retainedFor(again, [
    ...wildcards,
    wildcards[0]!.replace('/status', '/deploy'),
    deviceTopic('dev-aaa', 'fl'),
  ]);
  expect(all.get(deviceTopic(e, 'deploy'))).toBe('e1');
  expect(all.get(deviceTopic(e, 'status'))).toBe('online');
  expect(all.get(deviceTopic('dev-aaa', 'deploy'))).toBe('a2');
  expect(all.get(deviceTopic('dev-aaa', 'fl'))).toBe('a-fl');
  expect(all.has(deviceTopic('dev-ddd', 'deploy'))).toBe(false);
  await svc.endAsync(true);
});
