/**
 * Secrets on argv (issue 14, finding 10): `--api-key` and `--enroll-token` are still accepted, but
 * `ps` shows them to every user of the machine, so the CLI says so on stderr, once, with the
 * alternative. Real `verge` processes against an unreachable control plane (the warning comes
 * before the command's work); the file and environment routes stay quiet.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pool, verge } from './cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'verge-argv-warn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NOWHERE = 'http://127.0.0.1:9';
const warning = (flag: string) =>
  new RegExp(`^warning: ${flag} shows the secret to every user of this machine \\(ps\\): use `, 'm');

describe('secrets given on argv', () => {
  it('warn once on stderr; --api-key-file and --enroll-token-file do not', async () => {
    writeFileSync(join(dir, 'key'), 'operator-key\n');
    writeFileSync(join(dir, 'token'), 'enroll-token-0123456789\n');
    const [onArgv, fromFile, token, tokenFile] = await pool(
      [
        ['devices', '--cloud', NOWHERE, '--api-key', 'operator-key'],
        ['devices', '--cloud', NOWHERE, '--api-key-file', join(dir, 'key')],
        ['agent', '--cloud', NOWHERE, '--data-dir', join(dir, 'a1'), '--enroll-token', 'enroll-token-0123456789'],
        ['agent', '--cloud', NOWHERE, '--data-dir', join(dir, 'a2'), '--enroll-token-file', join(dir, 'token')],
      ],
      2,
      (args) => verge(args),
    );
    expect(onArgv!.stderr).toMatch(warning('--api-key'));
    expect(onArgv!.stderr).toMatch(/use --api-key-file or VERGE_API_KEY$/m);
    expect(onArgv!.stderr.match(/^warning:/gm)).toHaveLength(1);
    expect(token!.stderr).toMatch(warning('--enroll-token'));
    expect(token!.stderr).toMatch(/use --enroll-token-file$/m);
    for (const r of [onArgv!, fromFile!, token!, tokenFile!]) {
      // the command itself still runs (and fails on the unreachable cloud, in one error line)
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^error: E_NETWORK: /m);
    }
    for (const r of [fromFile!, tokenFile!]) expect(r.stderr).not.toMatch(/^warning:/m);
  });
});
