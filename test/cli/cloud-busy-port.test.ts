/**
 * `verge cloud` with its MQTT (or HTTP) port already taken exits at once with one error line — it
 * used to hang forever on a busy MQTT port (the embedded broker was not closed when listen failed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verge } from './cli.ts';

let busy: Server;
let port = 0;
const dir = mkdtempSync(join(tmpdir(), 'verge-busy-'));

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  port = (busy.address() as { port: number }).port;
});
afterAll(() => {
  busy.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('verge cloud on a busy port', () => {
  it.each([
    ['MQTT', (p: number) => ['--port', '0', '--mqtt-port', `${p}`]],
    ['HTTP', (p: number) => ['--port', `${p}`, '--mqtt-port', '0']],
  ] as const)('%s: exits non-zero with one line naming the port', async (_kind, flags) => {
    const started = Date.now();
    const r = await verge(['cloud', ...flags(port), '--data-dir', join(dir, _kind)], {}, 90_000);
    expect(r.code, `still running after ${Date.now() - started} ms`).not.toBe(0);
    expect(r.code).not.toBeNull(); // not killed by the timeout: it exited by itself
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('error:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`${port}`));
  });
});
