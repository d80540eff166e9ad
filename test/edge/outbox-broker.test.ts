/**
 * At-least-once telemetry over a real broker, with the faults caused for real: the broker goes
 * down and comes back while the agent keeps queueing, and the agent itself restarts (store
 * closed and reopened from disk). Every message id must arrive; duplicates are allowed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentStore } from '../../src/edge/agent-store.ts';
import { MqttSession } from '../../src/edge/mqtt-session.ts';
import { OutboxPump } from '../../src/edge/outbox-pump.ts';
import { deviceTopic, emptyHistogram, encodeMessage, newMessageId } from '../../src/protocol/index.ts';
import { mosquittoSkipReason, startAedes, startMosquitto, type TestBroker } from './brokers.ts';

const DEVICE = 'dev-outbox-1';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

class Agentish {
  store: AgentStore;
  session: MqttSession;
  pump: OutboxPump;
  constructor(
    readonly dir: string,
    readonly url: string,
  ) {
    this.store = new AgentStore(dir);
    this.session = new MqttSession({ url, clientId: DEVICE, subscriptions: [], baseDelayMs: 50, maxDelayMs: 400 });
    this.pump = new OutboxPump(this.store, (t, p, q) => this.session.publish(t, p, q));
    this.session.on('connected', () => this.pump.connected());
    this.session.on('disconnected', () => this.pump.disconnected());
    this.session.start();
  }
  send(n: number, ids: string[]): void {
    for (let i = 0; i < n; i++) {
      const id = newMessageId();
      ids.push(id);
      const now = Date.now();
      const payload = encodeMessage('telemetry', {
        id,
        device_id: DEVICE,
        window_start: now,
        window_end: now,
        model: { name: 'm', version: '1.0.0', variant: 'fp32' },
        inferences: 1,
        errors: 0,
        latency_ms: emptyHistogram(),
      });
      this.store.enqueue(id, deviceTopic(DEVICE, 'telemetry'), payload, 1);
    }
    this.pump.kick();
  }
  async crash(): Promise<void> {
    this.pump.stop();
    await this.session.kill();
    this.store.close();
  }
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function scenario(broker: TestBroker, received: Map<string, number>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'verge-outbox-'));
  dirs.push(dir);
  const ids: string[] = [];
  let agent = new Agentish(dir, broker.url);
  await until(() => agent.session.connected, 5000, 'first connect');
  agent.send(300, ids);
  await until(() => received.size >= 100, 10_000, 'first deliveries');

  // Fault 1: the broker goes away mid-stream; the agent keeps queueing while it is down.
  await broker.stop();
  agent.send(200, ids);
  await new Promise((r) => setTimeout(r, 300));
  expect(agent.session.connected).toBe(false);
  await broker.start();
  await until(() => agent.session.connected, 10_000, 'reconnect after broker restart');

  // Fault 2: the agent crashes with messages still queued, and restarts on the same data dir.
  agent.send(300, ids);
  const pendingAtCrash = agent.store.pendingCount();
  await agent.crash();
  expect(pendingAtCrash).toBeGreaterThan(0); // the restart below must deliver these from disk
  agent = new Agentish(dir, broker.url);
  agent.send(200, ids);
  await until(
    () => ids.every((id) => received.has(id)),
    20_000,
    `all ${ids.length} ids (have ${ids.filter((id) => received.has(id)).length})`,
  );
  await until(() => agent.store.pendingCount() === 0, 5000, 'outbox drained');
  expect(ids.filter((id) => !received.has(id))).toEqual([]);
  await agent.crash();
}

describe('outbox delivery over a real broker', () => {
  it('embedded aedes: broker restart and agent crash lose nothing', async () => {
    const received = new Map<string, number>();
    const broker = await startAedes((topic, payload) => {
      if (!topic.endsWith('/telemetry')) return;
      const id = (JSON.parse(payload.toString()) as { id: string }).id;
      received.set(id, (received.get(id) ?? 0) + 1);
    });
    try {
      await scenario(broker, received);
    } finally {
      await broker.close();
    }
  }, 60_000);

  const skip = mosquittoSkipReason();
  it.skipIf(!!skip)(
    `Mosquitto: broker restart and agent crash lose nothing${skip ? ` (skipped: ${skip})` : ''}`,
    async () => {
      const broker = await startMosquitto();
      const received = new Map<string, number>();
      // The "cloud": a persistent session (clean: false, QoS 1), so Mosquitto keeps its subscription
      // and queues messages for it across the broker's own restart.
      const cloud = mqtt.connect(broker.url, { clientId: 'verge-cloud-test', clean: false, reconnectPeriod: 100 });
      cloud.on('message', (topic, payload) => {
        const id = (JSON.parse(payload.toString()) as { id: string }).id;
        received.set(id, (received.get(id) ?? 0) + 1);
      });
      await new Promise<void>((resolve, reject) => {
        cloud.once('connect', () =>
          cloud.subscribe('verge/v1/dev/+/telemetry', { qos: 1 }, (e) => (e ? reject(e) : resolve())),
        );
      });
      try {
        await scenario(broker, received);
      } finally {
        await cloud.endAsync(true);
        await broker.close();
      }
    },
    60_000,
  );
});
