/**
 * Finding 10 (part): `--broker-password` put the control plane's broker password on the command
 * line, which `ps` (/proc/<pid>/cmdline) shows to every user of the machine; so did a PostgreSQL
 * URL with a password, an API key and an enrollment token. Checked on real started processes:
 * `verge cloud` against a private Mosquitto that requires the password, `verge agent` enrolling
 * with a real control plane, and an operator command.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_PATHS, type EnrollTokenResponse } from '../../src/protocol/index.ts';
import { freePort, MOSQUITTO_BIN, mosquittoSkipReason } from '../edge/brokers.ts';
import { waitUntil } from '../e2e/harness.ts';
import { startCloud } from './harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const VERGE = join(ROOT, 'bin', 'verge.js');
const mosquittoSkip = mosquittoSkipReason();
const MOSQUITTO_PASSWD = ['/usr/bin/mosquitto_passwd', '/usr/sbin/mosquitto_passwd'].find((p) => existsSync(p));
const brokerSkip = mosquittoSkip ?? (MOSQUITTO_PASSWD ? null : 'mosquitto_passwd not installed');
if (brokerSkip && process.env.CI === 'true') throw new Error(`required service missing under CI: ${brokerSkip}`);

const children: ChildProcess[] = [];
const dirs: string[] = [];
async function stopChildren(): Promise<void> {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
  }
}
afterEach(async () => {
  await stopChildren();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'verge-argv-'));
  dirs.push(d);
  return d;
}

/** A verge process that prints one JSON line once started (`--json`). */
function startVerge(args: string[]): { child: ChildProcess; started: Promise<Record<string, unknown>> } {
  const child = spawn(process.execPath, [VERGE, ...args, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    child.on('exit', (code) => reject(new Error(`verge ${args[0]} exited (${code}): ${err.slice(-1000)}`)));
  });
  return { child, started };
}

/** Run verge to its end, without blocking this process (it may host the cloud the command talks to). */
function run(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [VERGE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** What `ps` shows of a process: its argv, NUL-separated. */
const cmdline = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');

describe('no secrets on the command line (finding 10)', () => {
  it('verge cloud refuses a password on argv, in --broker-password or in the --db URL', () => {
    const dir = tempDir();
    for (const [args, flag] of [
      [['--broker-password', 'hunter2-on-argv'], /--broker-password-file or VERGE_BROKER_PASSWORD/],
      [['--db', 'postgres://verge:hunter2-on-argv@127.0.0.1:1/verge'], /PGPASSWORD/],
    ] as const) {
      const r = spawnSync(
        process.execPath,
        [VERGE, 'cloud', '--data-dir', join(dir, 'data'), '--port', '0', '--mqtt-port', '0', ...args],
        { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: E_BAD_ARGUMENT: /);
      expect(r.stderr).toMatch(flag);
      expect(existsSync(join(dir, 'data'))).toBe(false); // nothing started, nothing written
    }
  }, 120_000);

  it.skipIf(brokerSkip !== null)(
    `verge cloud reads its broker password from a file; ps does not show it${brokerSkip ? ` (skipped: ${brokerSkip})` : ''}`,
    async () => {
      const dir = tempDir();
      const secret = `pw-${Math.random().toString(36).slice(2)}-never-on-argv`;
      const port = await freePort();
      const r = spawnSync(MOSQUITTO_PASSWD!, ['-b', '-c', join(dir, 'passwd'), 'verge-cloud', secret]);
      expect(r.status).toBe(0);
      writeFileSync(
        join(dir, 'mosquitto.conf'),
        [
          `listener ${port} 127.0.0.1`,
          'persistence false',
          'user root',
          'allow_anonymous false',
          `password_file ${join(dir, 'passwd')}`,
          '',
        ].join('\n'),
      );
      const broker = spawn(MOSQUITTO_BIN!, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
      children.push(broker);
      writeFileSync(join(dir, 'broker-password'), `${secret}\n`, { mode: 0o600 });
      const args = [
        'cloud',
        '--data-dir',
        join(dir, 'data'),
        '--port',
        '0',
        '--mqtt-port',
        '0',
        '--broker',
        `mqtt://127.0.0.1:${port}`,
        '--broker-username',
        'verge-cloud',
        '--broker-password-file',
        join(dir, 'broker-password'),
        '--instance-id',
        'argv-test',
      ];
      // the broker may still be starting: a refused first connection ends the process, try again
      let cloud: { child: ChildProcess; started: Promise<Record<string, unknown>> } | undefined;
      await waitUntil(
        async () => {
          const c = startVerge(args);
          if (await c.started.catch(() => null)) cloud = c;
          return cloud !== undefined;
        },
        60_000,
        'verge cloud connected to the password-protected broker',
      );
      const shown = cmdline(cloud!.child.pid!);
      expect(shown).toContain('--broker-password-file');
      expect(shown).not.toContain(secret);
    },
    120_000,
  );

  it('verge agent reads its enrollment token, an operator command its API key, from files', async () => {
    const c = await startCloud('sqlite');
    try {
      const dir = tempDir();
      const { token } = await c.admin.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, {});
      writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
      const agent = startVerge([
        'agent',
        '--cloud',
        c.url,
        '--enroll-token-file',
        join(dir, 'token'),
        '--name',
        'argv-agent',
        '--data-dir',
        join(dir, 'agent'),
        '--port',
        '0',
      ]);
      const info = await agent.started;
      expect(info.device_id).toMatch(/^dev-/);
      expect(cmdline(agent.child.pid!)).not.toContain(token);

      writeFileSync(join(dir, 'api-key'), `${c.cp.adminKey}\n`, { mode: 0o600 });
      const r = await run(['devices', '--cloud', c.url, '--api-key-file', join(dir, 'api-key'), '--json'], {
        ...process.env,
        VERGE_API_KEY: '',
      });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).devices.map((d: { name: string }) => d.name)).toContain('argv-agent');
      const missing = await run(['devices', '--cloud', c.url, '--api-key-file', join(dir, 'nope')]);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/^error: E_FILE_NOT_FOUND: --api-key-file: cannot read/);
    } finally {
      await stopChildren();
      await c.close();
    }
  }, 120_000);
});
