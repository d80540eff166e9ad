/**
 * Finding 10 (part): the agent's local API had no authentication, and the DaemonSet binds it to
 * 0.0.0.0 — any host or pod on the network could run predictions (whose samples the edge data
 * loop collects and offloads) and read the agent's identity. On loopback, a web page in a browser
 * on the device could still reach it (a cross-origin POST, or DNS rebinding a name to 127.0.0.1).
 * Attacked here on real agents enrolled with a real control plane, serving a deployed model, over
 * real sockets (the network attacker through this host's non-loopback address when it has one).
 */
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeAgent } from '../../src/edge/agent.ts';
import { seedCnnBytes } from '../edge/models.ts';
import { agentOptions, startAgent, TestCloud } from '../e2e/harness.ts';

const TOKEN = 'a3f1c9e07b5d4e2f8a6c1b9d0e7f3a25c4b8d6e1f0a9c7b3';
const body = JSON.stringify({ inputs: { input: { dims: [1, 1, 28, 28], data: new Array(784).fill(0.5) } } });

/** This host's first non-loopback IPv4 address (how another machine reaches a 0.0.0.0 bind). */
function networkAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

function call(url: string, path: string, headers: Record<string, string> = {}, post = false): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: post ? 'POST' : 'GET',
    headers: post ? { 'content-type': 'application/json', ...headers } : headers,
    ...(post ? { body } : {}),
  });
}

/** GET with a Host header of our choosing (fetch sets its own), as a DNS-rebound page's request arrives. */
function getWithHost(url: string, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('agent local API authentication (finding 10)', () => {
  let cloud: TestCloud;
  let open: EdgeAgent;
  let guarded: EdgeAgent;
  let guardedUrl: string;

  beforeAll(async () => {
    cloud = await TestCloud.start();
    guarded = await startAgent(cloud, 'auth-net', { host: '0.0.0.0', apiToken: TOKEN });
    open = await startAgent(cloud, 'auth-local');
    await cloud.publish('seed', '1.0.0', seedCnnBytes());
    const dep = await cloud.deploy({
      model: 'seed',
      version: '1.0.0',
      target: { devices: ['auth-net', 'auth-local'] },
    });
    await cloud.waitDeployment(dep.id, ['succeeded'], 60_000);
    guardedUrl = guarded.url.replace('127.0.0.1', networkAddress() ?? '127.0.0.1');
  }, 120_000);
  afterAll(async () => {
    await guarded?.stop().catch(() => undefined);
    await open?.stop().catch(() => undefined);
    await cloud?.close();
  });

  it('a network client without the token gets 401 on every route but /healthz; with it, predictions', async () => {
    const stolen = ['/v1/models/seed:predict', '/v1/models', '/v1/agent', '/metrics', '/'];
    for (const path of stolen) {
      const tries: Record<string, string>[] = [
        {},
        { authorization: 'Bearer wrong-token-0123456789abcdef' },
        { authorization: TOKEN },
      ];
      for (const headers of tries) {
        const res = await call(guardedUrl, path, headers, path.endsWith(':predict'));
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.json()).toMatchObject({ error: { code: 'E_AUTH' } });
      }
    }
    expect((await call(guardedUrl, '/healthz')).status).toBe(200);
    // the refused predictions ran nothing
    const before = await (await call(guardedUrl, '/metrics', { authorization: `Bearer ${TOKEN}` })).text();
    expect(before).not.toMatch(/verge_agent_predictions_total\{[^}]*\} [1-9]/);

    const ok = await call(guardedUrl, '/v1/models/seed:predict', { authorization: `Bearer ${TOKEN}` }, true);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { model: { name: string } }).model.name).toBe('seed');
  });

  it('a browser page on the device cannot call a loopback agent (cross-origin request, DNS rebinding)', async () => {
    const port = new URL(open.url).port;
    const crossOrigin = await call(open.url, '/v1/models/seed:predict', { origin: 'https://evil.example' }, true);
    expect(crossOrigin.status).toBe(403);
    expect(await crossOrigin.json()).toMatchObject({ error: { code: 'E_AUTH' } });
    expect(await getWithHost(open.url, '/v1/agent', `evil.example:${port}`)).toBe(403);
    // local programs keep working without a token, by address or by name
    expect((await call(open.url, '/v1/models/seed:predict', {}, true)).status).toBe(200);
    expect(await getWithHost(open.url, '/v1/models', `localhost:${port}`)).toBe(200);
    expect(await getWithHost(open.url, '/v1/models', `127.0.0.1:${port}`)).toBe(200);
  });

  it('refuses to serve on a network address without a token, before enrolling', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'verge-auth-refused-'));
    try {
      const token = await cloud.token();
      await expect(
        EdgeAgent.start(agentOptions(dataDir, { cloudUrl: cloud.url, enrollToken: token, host: '0.0.0.0' })),
      ).rejects.toThrow(/--api-token-file/);
      await expect(
        EdgeAgent.start(agentOptions(dataDir, { cloudUrl: cloud.url, enrollToken: token, apiToken: 'short' })),
      ).rejects.toThrow(/at least 22/);
      expect(existsSync(join(dataDir, 'agent.db'))).toBe(false);

      // the CLI: one line, exit 1
      const tokenFile = join(dataDir, 'enroll-token');
      writeFileSync(tokenFile, token);
      const cli = spawnSync(
        process.execPath,
        ['bin/verge.js', 'agent', '--cloud', cloud.url, '--enroll-token-file', tokenFile, '--host', '0.0.0.0'].concat([
          '--data-dir',
          join(dataDir, 'cli'),
        ]),
        { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8', timeout: 60_000 },
      );
      expect(cli.status).toBe(1);
      expect(cli.stderr.trim().split('\n')).toHaveLength(1);
      expect(cli.stderr).toMatch(/E_BAD_ARGUMENT: .*--api-token-file/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
