/**
 * Finding 10 (part): API keys could not be listed or revoked, and replacing `admin.key` left the
 * old admin key valid. Attacked here on the real control plane (SQLite) over HTTP: a leaked key
 * keeps working until it is revoked, and a replaced admin key must stop working.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_PATHS, type ApiKeyResponse, type ApiKeysResponse } from '../../src/protocol/index.ts';
import { startCloud, type Cloud } from './harness.ts';

const clouds: Cloud[] = [];
afterEach(async () => {
  for (const c of clouds.splice(0)) await c.close().catch(() => undefined);
});

const statusWith = async (c: Cloud, key: string) =>
  (await fetch(c.url + HTTP_PATHS.status, { headers: { authorization: `Bearer ${key}` } })).status;

describe('operator API keys', () => {
  it('a leaked key is listed by id (never by value) and stops working once revoked', async () => {
    const cloud = await startCloud('sqlite');
    clouds.push(cloud);
    const leaked = await cloud.admin.post<ApiKeyResponse>(HTTP_PATHS.apiKeys, { role: 'read-only', name: 'ci' });
    expect(await statusWith(cloud, leaked.key)).toBe(200);
    const listed = await cloud.admin.get<ApiKeysResponse>(HTTP_PATHS.apiKeys);
    expect(listed.keys.map((k) => k.id)).toContain(leaked.id);
    expect(JSON.stringify(listed)).not.toContain(leaked.key);
    expect(listed.keys.find((k) => k.id === leaked.id)).toMatchObject({ role: 'read-only', name: 'ci' });
    // a read-only key may not revoke anything
    const byReader = await fetch(cloud.url + HTTP_PATHS.apiKey(leaked.id), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${leaked.key}` },
    });
    expect(byReader.status).toBe(403);
    await cloud.admin.delete(HTTP_PATHS.apiKey(leaked.id));
    expect(await statusWith(cloud, leaked.key)).toBe(401);
    expect(await statusWith(cloud, cloud.cp.adminKey)).toBe(200);
  });

  it('replacing admin.key revokes the key it held before', async () => {
    const first = await startCloud('sqlite');
    const oldKey = first.cp.adminKey;
    await first.close(true);
    const newKey = 'vk_' + 'n'.repeat(40);
    writeFileSync(join(first.dataDir, 'admin.key'), newKey + '\n', { mode: 0o600 });
    const next = await startCloud('sqlite', { reuse: { dataDir: first.dataDir, schema: null } });
    clouds.push(next);
    expect(next.cp.adminKey).toBe(newKey);
    expect(await statusWith(next, newKey)).toBe(200);
    expect(await statusWith(next, oldKey)).toBe(401);
  });
});
