/**
 * `verge agent` as a real process, killed with SIGKILL in the middle of an artifact download (the
 * artifact comes through a throttling proxy in front of the control plane, so the kill lands
 * mid-stream). Restarted on the same data dir, without a token, it must resume the download with a
 * Range request from where the killed process stopped, verify it, load it and report `loaded`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { secretFile } from '../cli/cli.ts';
import { seedCnnBytes, sha256 } from '../edge/models.ts';
import { predict, TestCloud, waitUntil } from './harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Forwards everything to the cloud; artifact bodies trickle out (8 KiB every 40 ms). */
async function throttlingProxy(
  upstream: string,
): Promise<{ url: string; artifactRanges: (string | undefined)[]; server: Server }> {
  const artifactRanges: (string | undefined)[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
    const isArtifact = req.method === 'GET' && /^\/v1\/artifacts\//.test(req.url ?? '');
    if (isArtifact) artifactRanges.push(req.headers.range);
    let up: Response;
    try {
      up = await fetch(upstream + req.url, {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
    } catch {
      res.writeHead(502).end();
      return;
    }
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
    });
    res.writeHead(up.status, out);
    const body = Buffer.from(await up.arrayBuffer());
    const step = isArtifact ? 8 * 1024 : body.length || 1;
    for (let off = 0; off < body.length; off += step) {
      if (res.destroyed) return;
      res.write(body.subarray(off, off + step));
      if (isArtifact) await new Promise((r) => setTimeout(r, 40));
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, artifactRanges, server };
}

function startAgentProcess(args: string[]): {
  child: ChildProcess;
  started: Promise<{ url: string; device_id: string }>;
  stderr: () => string;
} {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'verge.js'), 'agent', '--json', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const started = new Promise<{ url: string; device_id: string }>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.on('exit', (code) => reject(new Error(`agent exited (${code}): ${err.slice(-1000)}`)));
  });
  return { child, started, stderr: () => err };
}

describe('verge agent bad input', () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'verge.js'), 'agent', ...args], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('refuses with one line and leaves no data dir: no identity, unreachable cloud', async () => {
    const base = mkdtempSync(join(tmpdir(), 'verge-agent-bad-'));
    try {
      const cases: [string[], RegExp][] = [
        [['--data-dir', join(base, 'a')], /^error: E_BAD_ARGUMENT: .* holds no enrolled agent/],
        [
          [
            '--data-dir',
            join(base, 'b'),
            '--cloud',
            'http://127.0.0.1:9',
            '--enroll-token-file',
            secretFile('et_0123456789abcdef'),
          ],
          /^error: E_NETWORK: cannot reach the cloud/,
        ],
      ];
      for (const [args, pattern] of cases) {
        const r = await run(args);
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr.trim()).toMatch(pattern);
      }
      expect(existsSync(join(base, 'a'))).toBe(false);
      expect(existsSync(join(base, 'b'))).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('verge agent process killed during a download', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  let cloud: TestCloud | undefined;
  let proxy: Server | undefined;
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    proxy?.closeAllConnections();
    proxy?.close();
    await cloud?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('resumes with Range after SIGKILL, verifies, loads and reports loaded', async () => {
    cloud = await TestCloud.start();
    const p = await throttlingProxy(cloud.url);
    proxy = p.server;
    const dataDir = mkdtempSync(join(tmpdir(), 'verge-e2e-proc-'));
    dirs.push(dataDir);
    const bytes = seedCnnBytes();
    const digest = sha256(bytes);
    await cloud.publish('seed', '1.0.0', bytes);

    const first = startAgentProcess([
      '--cloud',
      p.url,
      '--enroll-token',
      await cloud.token(),
      '--name',
      'killme',
      '--data-dir',
      dataDir,
    ]);
    children.push(first.child);
    const info = await first.started;
    const dep = await cloud.deploy({ model: 'seed', version: '1.0.0', target: { devices: ['killme'] } });
    const part = join(dataDir, 'downloads', `${digest}.part`);
    await waitUntil(() => existsSync(part) && statSync(part).size >= 64 * 1024, 30_000, 'the download to be under way');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const left = statSync(part).size;
    expect(left).toBeLessThan(bytes.length);

    // Same data dir, no token: the agent resumes its identity and the download.
    const second = startAgentProcess(['--data-dir', dataDir]);
    children.push(second.child);
    const again = await second.started;
    expect(again.device_id).toBe(info.device_id);
    const done = await cloud.waitDeployment(dep.id, ['succeeded'], 60_000);
    expect(done.devices[0]).toMatchObject({ name: 'killme', state: 'loaded', variant: 'fp32' });
    const resumed = p.artifactRanges.filter((r) => r && /^bytes=(\d+)-$/.test(r) && Number(/\d+/.exec(r)![0]) > 0);
    expect(resumed.length).toBeGreaterThan(0);
    expect(Number(/\d+/.exec(resumed[0]!)![0])).toBeGreaterThanOrEqual(left);
    expect(second.stderr()).toMatch(/resumed download/);
    const r = await predict({ url: again.url }, 'seed');
    expect(r.status).toBe(200);
    second.child.kill('SIGTERM');
    await new Promise((res) => second.child.once('exit', res));
  }, 120_000);
});
