/**
 * Swagger UI at /docs of a real control plane, in Debian's chromium: the page renders the API's
 * operations from the control plane's own OpenAPI document, and every request it makes stays on
 * the control plane (its files come from the npm package, no CDN).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildControlPlane, type ControlPlane } from '../../src/cloud/control-plane.ts';
import { HTTP_PATHS } from '../../src/protocol/index.ts';
import { chromiumSkipReason, collectPageErrors, launchChromium, type LaunchedBrowser } from './chromium.ts';

const skip = chromiumSkipReason();

describe('Swagger UI at /docs', () => {
  let dir: string;
  let cp: ControlPlane;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'verge-docs-'));
    cp = await buildControlPlane({ dataDir: dir, webDir: null, tickMs: 60_000 });
    ({ url } = await cp.start({ port: 0 }));
  }, 60_000);
  afterAll(async () => {
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the UI and its files from the control plane, over the same document as /openapi.json', async () => {
    const page = await fetch(url + HTTP_PATHS.docs, { redirect: 'follow' });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    // no script or stylesheet from another origin
    expect(html).not.toMatch(/(src|href)="https?:\/\//);
    const bundle = await fetch(`${url}${HTTP_PATHS.docs}/static/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    const doc = (await (await fetch(`${url}${HTTP_PATHS.docs}/json`)).json()) as { paths: Record<string, unknown> };
    const openapi = (await (await fetch(url + HTTP_PATHS.openapi)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).sort()).toEqual(Object.keys(openapi.paths).sort());
    expect(doc.paths).toHaveProperty(HTTP_PATHS.devices);
    expect(Object.keys(doc.paths).some((p) => p.startsWith(HTTP_PATHS.docs))).toBe(false);
  });

  describe.skipIf(skip !== null)('in chromium', () => {
    let browser: LaunchedBrowser;
    beforeAll(async () => {
      browser = await launchChromium();
    }, 60_000);
    afterAll(async () => browser?.close());

    it('renders the operations, loading nothing from elsewhere', async () => {
      const page = await browser.context.newPage();
      const errors = collectPageErrors(page);
      const requested: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      await page.goto(url + HTTP_PATHS.docs);
      await page.locator('.opblock').first().waitFor({ timeout: 60_000 });
      expect(await page.locator('.opblock').count()).toBeGreaterThan(20);
      expect(await page.locator('.opblock-summary-path', { hasText: HTTP_PATHS.devices }).count()).toBeGreaterThan(0);
      expect(await page.locator('.btn.authorize').count()).toBe(1);
      const foreign = requested.filter((r) => !r.startsWith(url) && !r.startsWith('data:'));
      expect(foreign).toEqual([]);
      expect(errors, errors.join('\n')).toEqual([]);
      await page.screenshot({ path: join(process.cwd(), '.vitest', 'screenshots', 'api-docs.png') });
      await page.close();
    }, 120_000);
  });
});
