/**
 * Finding 12 (low): any device could download any artifact, including models never deployed to
 * it; the cloud served artifacts without re-checking their hash; a corrupt partial download
 * failed a deployment for good instead of restarting the download. Attacked here on the real
 * control plane (SQLite, embedded broker) with enrolled devices over HTTP and the agent's downloader.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadArtifact } from '../../src/edge/artifact-download.ts';
import { HTTP_PATHS, type Deployment, type ModelVersion } from '../../src/protocol/index.ts';
import { startCloud, type Cloud } from './harness.ts';

const clouds: Cloud[] = [];
afterEach(async () => {
  for (const c of clouds.splice(0)) await c.close().catch(() => undefined);
});

async function publish(c: Cloud, name: string, content: string): Promise<ModelVersion> {
  const a = await c.admin.upload<{ sha256: string }>(HTTP_PATHS.artifacts, Buffer.from(content));
  return c.admin.post<ModelVersion>(HTTP_PATHS.models, { name, version: '1.0.0', sha256: a.sha256 });
}

describe('artifact downloads', () => {
  it('a device downloads only the artifacts deployed to it', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const target = await cloud.device('art-target');
    const other = await cloud.device('art-other');
    const secret = await publish(cloud, 'secret-model', 'weights only art-target may read');
    const unused = await publish(cloud, 'never-deployed', 'weights nobody was sent');
    await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
      model: 'secret-model',
      version: '1.0.0',
      target: { devices: [target.id] },
    });
    const ref = secret.variants[0]!;
    expect((await target.download(ref)).toString()).toBe('weights only art-target may read');
    // the attack: another enrolled device asks for the same artifact, and for one never deployed
    for (const [dev, sha] of [
      [other, ref.sha256],
      [target, unused.variants[0]!.sha256],
    ] as const) {
      const res = await fetch(cloud.url + HTTP_PATHS.artifact(sha), { headers: { authorization: dev.authHeader } });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_NOT_FOUND');
    }
    // operators (a read-only key too) still may
    const op = await fetch(cloud.url + HTTP_PATHS.artifact(unused.variants[0]!.sha256), {
      headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
    });
    expect(op.status).toBe(200);
  });

  it('an artifact damaged on the server is never served', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const dev = await cloud.device('art-damaged');
    const mv = await publish(cloud, 'damaged-model', 'the original bytes of the model');
    await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
      model: 'damaged-model',
      version: '1.0.0',
      target: { devices: [dev.id] },
    });
    const ref = mv.variants[0]!;
    const file = join(cloud.dataDir, 'artifacts', ref.sha256.slice(0, 2), ref.sha256);
    const bytes = readFileSync(file);
    bytes[0] = bytes[0]! ^ 0xff;
    writeFileSync(file, bytes);
    const res = await fetch(cloud.url + ref.url, { headers: { authorization: dev.authHeader } });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_INTEGRITY');
    // set aside: later requests (a resumed range too) find no artifact until it is published again
    expect(existsSync(file)).toBe(false);
    const resumed = await fetch(cloud.url + ref.url, { headers: { authorization: dev.authHeader, range: 'bytes=4-' } });
    expect(resumed.status).toBe(404);
  });

  it('a corrupt partial download is restarted from scratch, not a final failure', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const dev = await cloud.device('art-partial');
    const content = 'model bytes, resumed from a damaged partial file '.repeat(100);
    const mv = await publish(cloud, 'partial-model', content);
    await cloud.admin.post<Deployment>(HTTP_PATHS.deployments, {
      model: 'partial-model',
      version: '1.0.0',
      target: { devices: [dev.id] },
    });
    const ref = mv.variants[0]!;
    const dir = mkdtempSync(join(tmpdir(), 'verge-partial-'));
    try {
      // what a disk fault (or an earlier server) left: the right length so far, the wrong bytes
      writeFileSync(join(dir, `${ref.sha256}.part`), Buffer.alloc(1000, 0x41));
      const got = await downloadArtifact(
        { url: cloud.url + ref.url, sha256: ref.sha256, bytes: ref.size, headers: { authorization: dev.authHeader } },
        dir,
      );
      expect(readFileSync(got.path, 'utf8')).toBe(content);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
