/**
 * A model version's optimize report in the registry and the dashboard: `verge model publish
 * --report report.svg` stores the SVG with the version (once; a different one is refused, a file
 * that is not an SVG too), and the dashboard's Models page shows it as an image, in chromium —
 * where a script inside an uploaded SVG never runs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, reportSvg } from '../../src/optimize/report.ts';
import { HTTP_PATHS, type ModelVersion, type ModelsResponse } from '../../src/protocol/index.ts';
import { buildWebApp } from '../../src/web/build.ts';
import { verge } from '../cli/cli.ts';
import { TestCloud } from '../e2e/harness.ts';
import { chromiumSkipReason, collectPageErrors, launchChromium, type LaunchedBrowser } from './chromium.ts';

const MODEL = join(import.meta.dirname, '..', 'fixtures', 'models', 'seed_cnn_fmnist.onnx');
const skip = chromiumSkipReason();
/** stderr minus the progress note ("uploading …"): one error line, never a stack trace. */
const errorLines = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    // progress notes before the outcome: the upload, and the loaded memory measured for the variant
    .filter((l) => !l.startsWith('uploading ') && !l.startsWith('loaded memory '));
/** An <img>'s natural width once loaded (0 before); runs in the page. */
const naturalWidth = (el: unknown) => {
  const img = el as { complete: boolean; naturalWidth: number };
  return img.complete ? img.naturalWidth : 0;
};

/** The report verge optimize would write for three variants (figures made up; the SVG is real). */
function sampleReportSvg(): string {
  const lat = (p50: number) => [
    { batch: 1, min_ms: p50, p50_ms: p50, p90_ms: p50, mean_ms: p50, runs: 5, samples_per_sec: 1000 / p50 },
  ];
  return reportSvg(
    buildReport('seed_cnn.onnx', { source: 'fashion-mnist', test_samples: 500 }, 1, [
      {
        name: 'fp32',
        precision: 'fp32',
        description: 'reference',
        bytes: 420_000,
        loaded: [{ batch: 1, bytes: 3 * 420_000 }],
        accuracy: 0.86,
        samples: 500,
        latency: lat(0.3),
      },
      {
        name: 'fp16',
        precision: 'fp16',
        description: 'fp16',
        bytes: 210_000,
        loaded: [{ batch: 1, bytes: 3 * 210_000 }],
        accuracy: 0.86,
        samples: 500,
        latency: lat(0.35),
      },
      {
        name: 'int8',
        precision: 'int8',
        description: 'static int8',
        bytes: 110_000,
        loaded: [{ batch: 1, bytes: 3 * 110_000 }],
        accuracy: 0.85,
        samples: 500,
        latency: lat(0.2),
      },
    ]),
  );
}

describe('optimize reports in the registry and the dashboard', () => {
  let dir: string;
  let cloud: TestCloud;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verge-report-'));
    const web = skip === null ? await buildWebApp(join(dir, 'web')) : null;
    cloud = await TestCloud.start({ webDir: web?.outDir ?? null });
    env = { VERGE_CLOUD: cloud.url, VERGE_API_KEY: cloud.cp.adminKey };
    writeFileSync(join(dir, 'report.svg'), sampleReportSvg());
    writeFileSync(join(dir, 'other.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>');
    writeFileSync(
      join(dir, 'evil.svg'),
      '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><script>window.__xss = 1</script><rect width="40" height="40"/></svg>',
    );
    writeFileSync(join(dir, 'not.svg'), '{"variants": []}');
  }, 240_000);
  afterAll(async () => {
    await cloud?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const publish = (version: string, report: string, variant = 'fp32') =>
    verge(
      [
        'model',
        'publish',
        MODEL,
        '--name',
        'seed',
        '--version',
        version,
        '--variant',
        variant,
        '--report',
        join(dir, report),
        '--json',
      ],
      env,
    );

  it('publishes a version with its report; the same again is a no-op, another is refused', async () => {
    const r = await publish('1.0.0', 'report.svg');
    expect(r.code, r.stderr).toBe(0);
    const mv = JSON.parse(r.stdout) as ModelVersion;
    expect(mv.report_sha256).toMatch(/^[0-9a-f]{64}$/);
    const again = await publish('1.0.0', 'report.svg', 'int8');
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as ModelVersion).report_sha256).toBe(mv.report_sha256);
    const other = await publish('1.0.0', 'other.svg', 'fp16');
    expect(other.code).not.toBe(0);
    expect(errorLines(other.stderr)).toHaveLength(1);
    expect(other.stderr).toContain('already has an optimize report');
    // the stored report is the file, served to operators
    const res = await fetch(cloud.url + HTTP_PATHS.artifact(mv.report_sha256!), {
      headers: { authorization: `Bearer ${cloud.cp.adminKey}` },
    });
    expect(await res.text()).toBe(sampleReportSvg());
  }, 120_000);

  it('refuses a report that is not an SVG, with one line', async () => {
    const r = await publish('1.1.0', 'not.svg');
    expect(r.code).not.toBe(0);
    expect(errorLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('is not an SVG');
    const models = await cloud.admin.get<ModelsResponse>(HTTP_PATHS.models);
    expect(models.models[0]!.versions.map((v) => v.version)).toEqual(['1.0.0']);
  }, 60_000);

  describe.skipIf(skip !== null)('in chromium', () => {
    let browser: LaunchedBrowser;
    let page: Page;
    beforeAll(async () => {
      expect((await publish('2.0.0', 'evil.svg')).code).toBe(0);
      browser = await launchChromium();
      page = await browser.context.newPage();
    }, 120_000);
    afterAll(async () => browser?.close());

    it("shows each version's report on the Models page as an image; an SVG's script does not run", async () => {
      const errors = collectPageErrors(page);
      await page.goto(cloud.url);
      await page.fill('input[name=key]', cloud.cp.adminKey);
      await page.click('button[type=submit]');
      await page.locator('nav a[href="#/models"]').click();
      const img = page.locator('tr[data-report="1.0.0"] img.report');
      await img.waitFor({ timeout: 60_000 });
      await expect.poll(() => img.evaluate(naturalWidth), { timeout: 30_000 }).toBeGreaterThan(100);
      expect(await img.getAttribute('alt')).toBe('optimize report of seed@1.0.0');
      const evil = page.locator('tr[data-report="2.0.0"] img.report');
      await expect.poll(() => evil.evaluate(naturalWidth), { timeout: 30_000 }).toBe(40);
      expect(await page.evaluate('window.__xss')).toBeUndefined();
      expect(await page.locator('svg script').count()).toBe(0);
      expect(errors, errors.join('\n')).toEqual([]);
      const shots = join(process.cwd(), '.vitest', 'screenshots');
      mkdirSync(shots, { recursive: true });
      await page.locator('[data-model="seed"]').screenshot({ path: join(shots, 'dashboard-models-report.png') });
    }, 180_000);
  });
});
