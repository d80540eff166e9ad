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
    // no ?replicas= nor ?threads=: one data-parallel replica per core (at most 4), each on one
    // WebAssembly thread; on one core, one session on onnxruntime-web's own thread count
    const cores = (await page.evaluate('navigator.hardwareConcurrency')) as number;
    const replicas = Math.min(4, cores);
    expect(outcome.replicas).toBe(replicas);
    const threads = replicas > 1 ? 1 : Math.min(4, Math.ceil(cores / 2));
    expect(outcome.threads).toBe(threads);
    expect(await page.locator('#runtime-info').textContent()).toContain(
      replicas > 1 ? `${replicas} data-parallel replicas (workers) of 1 thread` : `WebAssembly, ${threads} thread`,
    );
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

  it('trains the same with 2 data-parallel replicas (a worker) as with 1, in equal and uneven shards', async () => {
    const run = async (replicas: number, share = '') => {
      const page = await browser.context.newPage();
      const errors = collectPageErrors(page);
      await page.goto(
        `${url}/train.html?auto=1&samples=256&epochs=2&batch=64&replicas=${replicas}&threads=1${share && `&share=${share}`}`,
      );
      await page.waitForFunction("['done', 'error'].includes(document.body.dataset.state)", undefined, {
        timeout: 300_000,
        polling: 500,
      });
      const outcome = (await page.evaluate('window.vergeTraining')) as TrainingOutcome;
      expect(outcome.error, errors.join('\n')).toBeUndefined();
      expect(outcome.replicas).toBe(replicas);
      expect(errors, errors.join('\n')).toEqual([]);
      await page.close();
      return outcome;
    };
    const one = await run(1);
    // 8 Adam steps: the same losses (each batch cut 32/32, or 24/40 with share 0.6, between the
    // page and the worker, the gradients combined) up to float rounding; a wrong combination is
    // off by far more
    for (const two of [await run(2), await run(2, '0.6')]) {
      for (let e = 0; e < 2; e++) {
        expect(two.history[e]!.loss).toBeCloseTo(one.history[e]!.loss, 4);
        expect(two.history[e]!.accuracy).toBeCloseTo(one.history[e]!.accuracy!, 4);
      }
      expect(two.test!.loss).toBeCloseTo(one.test!.loss, 3);
    }
  }, 600_000);

  it('refuses a bad ?replicas= or ?share= with one line', async () => {
    const page = await browser.context.newPage();
    for (const [query, line] of [
      ['replicas=0', /^Cannot train: replicas must be an integer from 1 to 64/],
      ['share=0', /^Cannot train: share must be a number above 0 and at most 16, got 0$/],
    ] as const) {
      await page.goto(`${url}/train.html?auto=1&${query}`);
      await page.waitForFunction("document.body.dataset.state === 'error'", undefined, { timeout: 60_000 });
      expect(await page.locator('#status').textContent()).toMatch(line);
    }
    await page.close();
  }, 120_000);
});
