/**
 * The in-browser training page in Debian's chromium: the tab trains verge's seed CNN on the
 * Fashion-MNIST subset with fit() on onnxruntime-web (WASM), evaluates it, and classifies test
 * images — served by a real control plane with the app built by src/web/build.ts.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControlPlane, type ControlPlane } from '../../src/cloud/control-plane.ts';
import { buildWebApp, type WebBuildResult } from '../../src/web/build.ts';
import type { TrainingOutcome } from '../../src/web/training-outcome.ts';
import { chromiumSkipReason, collectPageErrors, launchChromium, type LaunchedBrowser } from './chromium.ts';

const skip = chromiumSkipReason();

describe.skipIf(skip !== null)('training in a browser tab (chromium, onnxruntime-web)', () => {
  let dir: string;
  let build: WebBuildResult;
  let cp: ControlPlane;
  let url: string;
  let browser: LaunchedBrowser;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verge-web-'));
    build = await buildWebApp(join(dir, 'web'));
    cp = await buildControlPlane({ dataDir: join(dir, 'cloud'), webDir: build.outDir, tickMs: 60_000 });
    ({ url } = await cp.start({ port: 0 }));
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('bundles no Node module on the browser path', () => {
    const nodeOnly = build.inputs.filter((f) => f.startsWith('node:') || /onnxruntime-node/.test(f));
    expect(nodeOnly).toEqual([]);
    expect(build.inputs.some((f) => f.includes('onnxruntime-web'))).toBe(true);
    expect(build.inputs.some((f) => f.endsWith('src/train/session.ts'))).toBe(true);
  });

  it('trains the seed CNN in the tab and classifies test images', async () => {
    const page = await browser.context.newPage();
    const errors = collectPageErrors(page);
    const res = await page.goto(`${url}/train.html?auto=1&samples=1024&epochs=2&batch=64`);
    expect(res?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
    // a string: it runs in the page (the test's own types have no DOM)
    await page.waitForFunction("['done', 'error'].includes(document.body.dataset.state)", undefined, {
      timeout: 300_000,
      polling: 500,
    });
    const outcome = (await page.evaluate('window.vergeTraining')) as TrainingOutcome;
    expect(outcome.error, errors.join('\n')).toBeUndefined();
    expect(outcome.state).toBe('done');
    expect(outcome.backend).toBe('onnxruntime-web');
    expect(outcome.crossOriginIsolated).toBe(true);
    // no ?threads=: the page reports the thread count onnxruntime-web chose (⌈cores / 2⌉, at most 4)
    const cores = (await page.evaluate('navigator.hardwareConcurrency')) as number;
    const chosen = Math.min(4, Math.ceil(cores / 2));
    expect(outcome.threads).toBe(chosen);
    expect(await page.locator('#runtime-info').textContent()).toContain(`WebAssembly, ${chosen} thread`);
    expect(outcome.history).toHaveLength(2);
    // learning happened: the second epoch's loss is below the first's, and the held-out accuracy
    // is far above chance (10%) — 2 epochs on 1,024 samples reach ~70% with onnxruntime-node
    expect(outcome.history[1]!.loss).toBeLessThan(outcome.history[0]!.loss);
    expect(outcome.test!.samples).toBe(500);
    expect(outcome.test!.accuracy).toBeGreaterThan(0.5);
    expect(outcome.gallery).toHaveLength(12);
    const right = outcome.gallery!.filter((g) => g.label === g.predicted).length;
    expect(right).toBeGreaterThanOrEqual(4);
    expect(await page.locator('#status').textContent()).toContain('test accuracy');
    expect(errors, errors.join('\n')).toEqual([]);
    const shots = join(process.cwd(), '.vitest', 'screenshots');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'train.png'), fullPage: true });
    await page.close();
  }, 400_000);
});
