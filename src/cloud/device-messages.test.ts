/**
 * DeviceMessageRouter: each message is counted by verb (verge_mqtt_messages_total, gathered in a
 * plain map and added to the counter when /metrics is read), decoded once and handed to its verb's
 * handler only when it speaks for the device of its topic.
 */
import { expect, it } from 'vitest';
import { encodeMessage, type HeartbeatMessage } from '../protocol/index.ts';
import { DeviceMessageRouter } from './device-messages.ts';
import { ControlPlaneMetrics } from './metrics.ts';

const DEVICE = 'dev-0123456789ab';

it('counts every message by verb, also across reads of /metrics, and rejects one naming another device', async () => {
  const metrics = new ControlPlaneMetrics(
    async () => ({ online: 0, offline: 0, revoked: 0 }),
    () => 0,
  );
  const router = new DeviceMessageRouter(metrics);
  const seen: HeartbeatMessage[] = [];
  router.on('heartbeat', (m) => void seen.push(m));
  const beat = (id: string) =>
    encodeMessage('heartbeat', {
      device_id: id,
      uptime_s: 1,
      profile: {
        class: 'sim',
        arch: 'arm64',
        platform: 'linux',
        cpu: { model: 'x', cores: 1 },
        memory_mb: 1,
        precisions: ['fp32'],
        accelerators: [],
      },
      models: [],
    });
  const count = async () => {
    const text = await metrics.registry.metrics();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
    return {
      heartbeat: value(/verge_mqtt_messages_total\{verb="heartbeat"\} (\d+)/),
      status: value(/verge_mqtt_messages_total\{verb="status"\} (\d+)/),
      rejected: value(/verge_messages_rejected_total\{verb="heartbeat"\} (\d+)/),
    };
  };
  await router.handle(DEVICE, 'heartbeat', beat(DEVICE));
  await router.handle(DEVICE, 'heartbeat', beat(DEVICE));
  expect(await count()).toEqual({ heartbeat: 2, status: 0, rejected: 0 });
  await router.handle(DEVICE, 'heartbeat', beat('dev-ba9876543210'));
  await router.handle(DEVICE, 'status', encodeMessage('status', { device_id: DEVICE, state: 'online' }));
  expect(await count()).toEqual({ heartbeat: 3, status: 1, rejected: 1 });
  expect(seen).toHaveLength(2);
});
