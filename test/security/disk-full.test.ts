/**
 * Finding 5 (part): a model larger than the agent's free disk filled it (the download wrote until
 * ENOSPC, leaving its partial file) and SQLite then failed with SQLITE_FULL. Attacked here with a
 * real agent whose data dir is a 16 MiB tmpfs and a real control plane deploying a 20 MB
 * artifact: the deployment fails with E_TOO_LARGE before a byte is written, nothing half-written
 * stays, and the agent keeps serving its model and sending telemetry. Needs root for the mount
 * (skipped with the reason otherwise).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { tinyModelBytes } from '../edge/models.ts';
import { agentOptions, predict, TestCloud } from '../e2e/harness.ts';
import { smallDisk } from './small-disk.ts';

const disk = smallDisk('verge-diskfull-');
const mountPoint = disk.path;
const mountSkip = disk.skip;

describe.skipIf(mountSkip !== null)(
  `disk full on the agent (finding 5)${mountSkip ? ` (skipped: ${mountSkip})` : ''}`,
  () => {
    let cloud: TestCloud;
    let agent: EdgeAgent | undefined;

    beforeAll(async () => {
      cloud = await TestCloud.start();
    });
    afterAll(async () => {
      await agent?.stop().catch(() => undefined);
      await cloud?.close();
      disk.unmount();
    });

    it('a model larger than the free disk fails its deployment, not the agent', async () => {
      const dataDir = join(mountPoint, 'agent');
      agent = await EdgeAgent.start(
        agentOptions(dataDir, { cloudUrl: cloud.url, enrollToken: await cloud.token(), name: 'disk-small' }),
      );
      await cloud.publish('disk-model', '1.0.0', tinyModelBytes(1));
      const first = await cloud.deploy({ model: 'disk-model', version: '1.0.0', target: { devices: ['disk-small'] } });
      await cloud.waitDeployment(first.id, ['succeeded']);

      // 20 MB of incompressible bytes: more than the whole disk
      const big = Buffer.alloc(20 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
      await cloud.publish('disk-model', '2.0.0', big);
      const dep = await cloud.deploy({ model: 'disk-model', version: '2.0.0', target: { devices: ['disk-small'] } });
      const failed = await cloud.waitDeployment(dep.id, ['failed', 'succeeded'], 60_000);
      expect(failed.devices[0]).toMatchObject({ state: 'failed', error: { code: 'E_TOO_LARGE' } });
      expect(failed.devices[0]!.error!.message).toMatch(/free/);
      // nothing half-written: no partial download fills the disk
      expect(readdirSync(join(dataDir, 'downloads'))).toEqual([]);
      // the agent serves on and its telemetry still reaches the cloud
      expect((await predict(agent, 'disk-model')).body.model.version).toBe('1.0.0');
      expect(await agent.drainOutbox()).toBe(true);
    }, 120_000);
  },
);
