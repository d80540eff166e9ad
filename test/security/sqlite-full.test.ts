/**
 * Finding 5 (rest): a disk filled by something else made the agent's SQLite writes fail with
 * SQLITE_FULL, uncaught: the agent crashed, and again on every restart. Attacked here on a real
 * `verge agent` process whose data dir is a 16 MiB tmpfs, enrolled with a real control plane and
 * serving a deployed model: another file takes every free byte, then predictions keep coming (so
 * telemetry windows and their outbox rows keep being written). The agent must stay up and serving,
 * drop telemetry oldest-first with a counter, and deliver telemetry again once space is back.
 * Needs root for the mount (skipped with the reason otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedCnnBytes } from '../edge/models.ts';
import { predict, sleep, TestCloud, waitUntil } from '../e2e/harness.ts';
import { smallDisk } from './small-disk.ts';

const ROOT = join(import.meta.dirname, '../..');
const disk = smallDisk('verge-sqlitefull-');
const mountPoint = disk.path;
const mountSkip = disk.skip;

/** Write a file until the disk refuses another byte. */
function fillDisk(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8, 1]) {
      const chunk = Buffer.alloc(size, 7);
      for (;;) {
        try {
          writeSync(fd, chunk);
          written += size;
        } catch {
          break; // ENOSPC at this size: try smaller
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe.skipIf(mountSkip !== null)(
  `SQLITE_FULL on the agent (finding 5)${mountSkip ? ` (skipped: ${mountSkip})` : ''}`,
  () => {
    let cloud: TestCloud;
    let proc: ChildProcess | undefined;

    beforeAll(async () => {
      cloud = await TestCloud.start();
    });
    afterAll(async () => {
      proc?.kill('SIGKILL');
      await cloud?.close();
      disk.unmount();
    });

    it('a full disk drops telemetry oldest-first with a counter; the agent serves on', async () => {
      const tokenFile = join(tmpdir(), `verge-sqlitefull-token-${process.pid}`);
      writeFileSync(tokenFile, await cloud.token());
      proc = spawn(
        process.execPath,
        ['bin/verge.js', 'agent', '--cloud', cloud.url, '--enroll-token-file', tokenFile, '--name', 'full-disk'].concat(
          ['--data-dir', join(mountPoint, 'agent'), '--port', '0', '--json'],
        ),
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      proc.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      let exit: number | null | undefined;
      proc.once('exit', (code) => (exit = code));
      await waitUntil(() => stdout.includes('\n') || exit !== undefined, 60_000, 'the agent to start');
      rmSync(tokenFile, { force: true });
      const agent = { url: (JSON.parse(stdout.split('\n')[0]!) as { url: string }).url };

      await cloud.publish('full', '1.0.0', seedCnnBytes());
      const dep = await cloud.deploy({ model: 'full', version: '1.0.0', target: { devices: ['full-disk'] } });
      await cloud.waitDeployment(dep.id, ['succeeded'], 60_000);

      const deviceId = (JSON.parse(stdout.split('\n')[0]!) as { device_id: string }).device_id;
      // the cloud is away: telemetry windows queue up in the outbox
      await cloud.down();
      const downAt = Date.now();
      const offlineUntil = Date.now() + 12_000;
      while (Date.now() < offlineUntil) {
        await predict(agent, 'full', 8);
        await sleep(50);
      }
      const queued = await metric(agent.url, 'verge_agent_outbox_pending');
      expect(queued).toBeGreaterThanOrEqual(2);

      // something else takes the whole disk; predictions go on, and with them telemetry windows
      const filler = join(mountPoint, 'filler');
      expect(fillDisk(filler)).toBeGreaterThan(0);
      const fullAt = Date.now();
      const until = Date.now() + 25_000;
      let served = 0;
      while (Date.now() < until && exit === undefined) {
        const r = await predict(agent, 'full', 8).catch(() => ({ status: 0 }));
        if (r.status === 200) served++;
        await sleep(50);
      }
      expect(exit, `the agent exited: ${stderr.split('\n').slice(-25).join(' | ')}`).toBeUndefined();
      expect(served).toBeGreaterThan(10);
      expect((await predict(agent, 'full')).status).toBe(200);
      expect(await metric(agent.url, 'verge_agent_outbox_dropped_total')).toBeGreaterThanOrEqual(queued);
      expect(stderr).toMatch(/disk full: [1-9]\d* oldest telemetry records dropped/);

      // space is back: telemetry flows again
      rmSync(filler);
      await cloud.up();
      const before = (await cloud.status()).telemetry.messages;
      for (let i = 0; i < 20; i++) await predict(agent, 'full');
      await waitUntil(
        async () => (await cloud.status()).telemetry.messages > before,
        30_000,
        'telemetry after space came back',
      );
      expect(exit).toBeUndefined();
      // oldest first: the windows queued while the cloud was away made room for those written on the full disk
      const rows = await cloud.cp.repos.telemetry.ofDevice(deviceId, downAt, Date.now(), 1000);
      expect(rows.filter((r) => r.window_end < fullAt)).toEqual([]);
      expect(rows.filter((r) => r.window_end > fullAt + 5_000).length).toBeGreaterThan(0);
    }, 180_000);
  },
);
