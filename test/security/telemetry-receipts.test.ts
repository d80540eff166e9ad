/**
 * Finding 8, external broker: Mosquitto acknowledges a device's QoS 1 telemetry when it has taken
 * it, not when the control plane has it, and it DROPS what it cannot queue for the control plane's
 * session: beyond `max_queued_messages` (1000 by default) while the control plane is disconnected
 * (a restart, an upgrade, a network cut). An agent deleted a record on the broker's PUBACK, so
 * everything past the broker's queue was lost for good while the agent believed it delivered.
 * Attacked here on real parts: a private Mosquitto with its default queue limits, a control plane
 * with a persistent session on it, real edge agents (EdgeAgent). The control plane is stopped;
 * the agents go on serving and send their telemetry windows (every record PUBACKed by Mosquitto,
 * most of them dropped); the control plane comes back. Every record must end up in the database:
 * the agent keeps each one until the control plane's receipt names it as stored and sends again
 * what no receipt named.
 *
 * Twice: agents sending one record per MQTT message (as before telemetry batches, and as agents do
 * against a cloud that takes none) into Mosquitto's defaults, and agents sending batches
 * (TelemetryBatchMessage) — fewer, larger messages, so Mosquitto's queue is made small
 * (`max_queued_messages 8`) for it to drop some; a dropped batch loses all its records at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, expect, it } from 'vitest';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { freePort, MOSQUITTO_BIN, mosquittoSkipReason } from '../edge/brokers.ts';
import { agentOptions, TestCloud, waitUntil } from '../e2e/harness.ts';

const AGENTS = 4;
/** Telemetry records each agent sends while the control plane is down: 4 × 1,000 against Mosquitto's queue of 1,000. */
const BACKLOG = 1000;
/** Mosquitto's default max_queued_messages (mosquitto.conf(5)): what it keeps for an offline session. */
const MOSQUITTO_DEFAULT_QUEUE = 1000;
/** The agents' receipt timeout, shortened (default 30 s). */
const RECEIPT_TIMEOUT_MS = 2000;

const skip = mosquittoSkipReason();
const dir = mkdtempSync(join(tmpdir(), 'verge-receipts-'));
const procs: ChildProcess[] = [];
const allAgents: EdgeAgent[] = [];
const clouds: TestCloud[] = [];
afterAll(async () => {
  for (const a of allAgents) await a.stop().catch(() => undefined);
  for (const c of clouds) await c.close().catch(() => undefined);
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** $SYS counters of the broker (sys_interval 1). */
async function brokerCounters(url: string): Promise<{ dropped: number }> {
  const c = await mqtt.connectAsync(url, { clientId: `sys-${randomUUID().slice(0, 8)}`, reconnectPeriod: 0 });
  const v: Record<string, number> = {};
  c.on('message', (t, p) => (v[t] = Number(p.toString())));
  await c.subscribeAsync('$SYS/broker/publish/messages/dropped');
  await waitUntil(() => Object.keys(v).length === 1, 10_000, '$SYS counters');
  await c.endAsync();
  return { dropped: v['$SYS/broker/publish/messages/dropped']! };
}

const VARIANTS = [
  { what: 'one record per message, Mosquitto defaults', telemetryBatch: 1, conf: [] as string[] },
  { what: 'batches, a small Mosquitto queue', telemetryBatch: undefined, conf: ['max_queued_messages 8'] },
];

for (const variant of VARIANTS)
  it.skipIf(skip !== undefined)(
    `telemetry Mosquitto acknowledged and then dropped is sent again and stored (${variant.what})${skip ? ` (skipped: ${skip})` : ''}`,
    async () => {
      const agents: EdgeAgent[] = [];
      const port = await freePort();
      const brokerUrl = `mqtt://127.0.0.1:${port}`;
      // an operator's Mosquitto as installed: its default queue limits (max_queued_messages 1000)
      writeFileSync(
        join(dir, 'mosquitto.conf'),
        [
          `listener ${port} 127.0.0.1`,
          'allow_anonymous true',
          'persistence false',
          'sys_interval 1',
          'user root',
          ...variant.conf,
          '',
        ].join('\n'),
      );
      procs.push(spawn(MOSQUITTO_BIN!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' }));
      await waitUntil(
        () =>
          brokerCounters(brokerUrl).then(
            () => true,
            () => false,
          ),
        30_000,
        'mosquitto to listen',
      );
      const cloud = await TestCloud.start({ broker: brokerUrl });
      clouds.push(cloud);
      for (let i = 0; i < AGENTS; i++) {
        const opts = agentOptions(join(dir, `agent-${i}`), {
          cloudUrl: cloud.url,
          enrollToken: await cloud.token(),
          name: `backlog-${i}`,
          brokerUrl,
          receiptTimeoutMs: RECEIPT_TIMEOUT_MS,
          telemetryIntervalMs: 3_600_000, // windows are cut by the test below
          ...(variant.telemetryBatch ? { telemetryBatch: variant.telemetryBatch } : {}),
        });
        agents.push(await EdgeAgent.start(opts));
        allAgents.push(agents.at(-1)!);
      }
      await waitUntil(() => agents.every((a) => a.state === 'online'), 30_000, 'agents online');
      const base = (await cloud.status()).telemetry.messages;

      // the control plane goes down (its persistent session stays on the broker); the agents serve
      // on and send their telemetry windows, each one record, which Mosquitto acknowledges
      const before = await brokerCounters(brokerUrl);
      await cloud.down();
      for (const a of agents) {
        for (let k = 0; k < BACKLOG; k++) {
          a.stats.record({ name: 'backlog', version: '1.0.0', variant: 'fp32' }, 1, true);
          expect(a.flushTelemetry()).toBe(1);
        }
      }
      const sent = AGENTS * BACKLOG;
      await waitUntil(
        // nothing left that the broker has not acknowledged
        () => agents.every((a) => a.store.pendingCount() === a.info().outbox_awaiting_receipt),
        60_000,
        'Mosquitto to acknowledge every record',
      );
      // the attack happened: Mosquitto acknowledged records it could not keep ($SYS lags by ≤ 1 s)
      let dropped = 0;
      await waitUntil(
        async () =>
          (dropped = (await brokerCounters(brokerUrl)).dropped - before.dropped) >=
          (variant.telemetryBatch === 1 ? sent - MOSQUITTO_DEFAULT_QUEUE : 1),
        15_000,
        'Mosquitto to report what it dropped',
      ).catch(() => undefined);
      // one record per message: all past the default queue; batches: some messages, many records each
      expect(dropped).toBeGreaterThanOrEqual(variant.telemetryBatch === 1 ? sent - MOSQUITTO_DEFAULT_QUEUE : 1);

      await cloud.up();
      let stored = 0;
      await waitUntil(
        async () => (stored = (await cloud.status()).telemetry.messages - base) >= sent,
        90_000,
        'every record stored',
      ).catch(() => undefined);
      console.log(
        `${variant.what}, control plane down: ${sent} telemetry records acknowledged by Mosquitto, ${dropped} messages dropped by it (resends included), ${sent - stored} missing after the restart`,
      );
      expect(sent - stored, `${sent - stored} of ${sent} records lost`).toBe(0);
      // the agents hold nothing once the receipts came
      await waitUntil(() => agents.every((a) => a.store.pendingCount() === 0), 30_000, 'outboxes empty');
      for (const a of agents) await a.stop();
      await cloud.close();
    },
    240_000,
  );
