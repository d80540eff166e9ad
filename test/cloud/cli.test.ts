/**
 * The operator commands end to end: `verge cloud` as a real process, the CLI against it, and a
 * simulated device (sim-device.ts) over real MQTT.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEARTBEAT_INTERVAL_MS } from '../../src/protocol/index.ts';
import { waitUntil } from '../e2e/harness.ts';
import { SimDevice } from './sim-device.ts';

const run = promisify(execFile);
const VERGE = join(import.meta.dirname, '../../bin/verge.js');
const MODEL = join(import.meta.dirname, '../fixtures/models/seed_cnn.onnx');

async function verge(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('node', [VERGE, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('operator CLI against `verge cloud`', () => {
  let dir: string;
  let proc: ChildProcess;
  let info: { url: string; mqtt_url: string; admin_key_file: string };
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verge-cli-cloud-'));
    proc = spawn('node', [VERGE, 'cloud', '--port', '0', '--mqtt-port', '0', '--data-dir', dir, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = '';
      proc.stdout!.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
      });
      proc.once('exit', (code) => reject(new Error(`verge cloud exited with ${code}`)));
    });
    info = JSON.parse(line);
    env = { VERGE_CLOUD: info.url, VERGE_API_KEY: readFileSync(info.admin_key_file, 'utf8').trim() };
  });

  afterAll(async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGINT');
      await new Promise((r) => proc.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('enroll-token, model publish, deploy --wait, devices, rollback, status', async () => {
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const tok = await verge(['enroll-token', '--tag', 'site=cli', '--json'], env);
    expect(tok.code).toBe(0);
    const { token, tags } = JSON.parse(tok.stdout);
    expect(tags).toEqual({ site: 'cli' });
    const dev = await SimDevice.create(info.url, token, 'cli-device');
    dev.auto = {};
    await dev.connect();
    await dev.subscribe();
    // like a real agent, the device heartbeats while the CLI runs (each command can take seconds on a loaded machine)
    const beat = setInterval(() => void dev.heartbeat().catch(() => undefined), HEARTBEAT_INTERVAL_MS);
    try {
      const pub = await verge(
        ['model', 'publish', MODEL, '--name', 'seed', '--version', '1.0.0', '--metric', 'accuracy=0.9', '--json'],
        env,
      );
      expect(pub.code).toBe(0);
      expect(JSON.parse(pub.stdout).variants[0].signature).toBeTruthy();
      // --data-dir finds admin.key without VERGE_API_KEY
      const dep = await verge(['deploy', 'seed@1.0.0', '--tag', 'site=cli', '--wait', '--json', '--data-dir', dir], {
        VERGE_CLOUD: info.url,
      });
      expect(dep.code, dep.stderr).toBe(0);
      expect(JSON.parse(dep.stdout)).toMatchObject({ state: 'succeeded', model: 'seed', version: '1.0.0' });
      // the deployment succeeds on the device's ack; what it serves reaches `devices` with its next
      // status message, which may come a moment later on a loaded machine
      let list = { devices: [] as Record<string, unknown>[] };
      await waitUntil(
        async () => (list = JSON.parse((await verge(['devices', '--json'], env)).stdout)).devices[0]?.model === 'seed',
        30_000,
        'the device to report the deployed model',
      ).catch(() => undefined); // the assertion below says what it reports instead
      expect(list.devices[0]).toMatchObject({
        name: 'cli-device',
        status: 'online',
        model: 'seed',
        version: '1.0.0',
        variant: 'fp32',
      });
      expect(typeof list.devices[0].last_seen).toBe('number');
      const rb = await verge(['rollback', 'seed', '--json'], env);
      expect(rb.code, rb.stderr).toBe(0); // the rollback asked for succeeded: exit 0, no error line
      expect(rb.stderr).not.toMatch(/error/);
      expect(JSON.parse(rb.stdout).state).toBe('rolled_back');
      const st = JSON.parse((await verge(['status', '--json'], env)).stdout);
      expect(st).toMatchObject({ devices: { total: 1 }, models: 1, deployments: { total: 1, active: 0 } });
    } finally {
      clearInterval(beat);
      await dev.close();
    }
    // eight CLI runs (plus publish's loaded-memory measurement in a child process): over the default
    // 120 s at load ~45 on 2 cores (2026-12-03)
  }, 300_000);

  it('reports an unreachable cloud in one line', async () => {
    const down = await verge(['devices'], { VERGE_CLOUD: 'http://127.0.0.1:1', VERGE_API_KEY: 'x' });
    expect(down.code).not.toBe(0);
    expect(down.stderr.trim()).toMatch(/^error: E_NETWORK: cannot reach the control plane at http:\/\/127\.0\.0\.1:1/);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('shuts down cleanly on SIGINT', async () => {
    proc.kill('SIGINT');
    const code = await new Promise((r) => proc.once('exit', r));
    expect(code).toBe(0);
  });
});
