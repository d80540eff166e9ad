/**
 * `verge demo browser` through the real CLI: it serves the built app with the training page
 * cross-origin isolated (--once checks and exits), builds the app when the folder has none, trains
 * in Debian's chromium with --headless and prints the tab's outcome, and refuses bad options with
 * one line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumSkipReason } from '../web/chromium.ts';
import { verge } from './cli.ts';

const noChromium = chromiumSkipReason();

describe('verge demo browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verge-demo-browser-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the app into an empty folder, serves the training page isolated, and exits with --once', async () => {
    const web = join(dir, 'web');
    const r = await verge(['demo', 'browser', '--web-dir', web, '--once', '--json'], {}, 180_000);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ web_dir: web, built: true, cross_origin_isolated: true });
    expect(out.train_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/train\.html$/);
    expect(r.stderr).toContain('building the browser app');
    // second start: already built
    const again = await verge(['demo', 'browser', '--web-dir', web, '--once', '--json'], {}, 120_000);
    expect(JSON.parse(again.stdout)).toMatchObject({ built: false, cross_origin_isolated: true });
  }, 300_000);

  it.skipIf(noChromium !== null)(
    '--headless trains the seed CNN in a chromium tab and prints what the tab measured',
    async () => {
      const web = join(dir, 'web'); // built by the test above
      const r = await verge(
        ['demo', 'browser', '--web-dir', web, '--headless', '--samples', '256', '--epochs', '1', '--json'],
        {},
        600_000,
      );
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, number | string | boolean | null>;
      expect(out).toMatchObject({ built: false, backend: 'onnxruntime-web', epochs: 1, test_samples: 500 });
      expect(out.final_loss).toEqual(expect.any(Number));
      expect(Number.isFinite(out.final_loss)).toBe(true);
      expect(out.test_accuracy as number).toBeGreaterThan(0.15); // one epoch of 256 images: 37% in a manual run
      expect(out.samples_per_sec as number).toBeGreaterThan(0);
      expect(r.stderr).toContain('training in headless chromium: 256 samples, 1 epoch(s)');
    },
    660_000,
  );

  it('refuses a bad option with one line', async () => {
    const r = await verge(['demo', 'browser', '--epochs', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--epochs/);
  }, 60_000);
});
