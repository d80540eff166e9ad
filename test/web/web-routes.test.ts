/**
 * The control plane's web app routes: isolation headers on the built app, a clear page without one,
 * onnxruntime-web's WASM files from the installed package (only those, and only when the app was
 * built with the installed version).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { installedOrtWeb, ORT_BUILD_MANIFEST, ORT_WEB_FILES, webRoutes } from '../../src/cloud/plugins/web.ts';

describe('web app routes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verge-webroutes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves a built app cross-origin isolated, with the index at /', async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>dash</title>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    const app = Fastify();
    await app.register(webRoutes, { webDir: dir });
    const index = await app.inject({ method: 'GET', url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('<title>dash</title>');
    expect(index.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(index.headers['cross-origin-embedder-policy']).toBe('require-corp');
    const js = await app.inject({ method: 'GET', url: '/assets/app.js' });
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect((await app.inject({ method: 'GET', url: '/assets/missing.js' })).statusCode).toBe(404);
    await app.close();
  });

  it("serves onnxruntime-web's WASM files from the installed package, and nothing else of it", async () => {
    const ort = installedOrtWeb()!;
    writeFileSync(join(dir, ORT_BUILD_MANIFEST), JSON.stringify({ onnxruntimeWeb: ort.version }));
    const app = Fastify();
    await app.register(webRoutes, { webDir: dir });
    for (const f of ORT_WEB_FILES) {
      const res = await app.inject({ method: 'GET', url: `/ort/${f}` });
      expect(res.statusCode, f).toBe(200);
      expect(res.rawPayload.equals(readFileSync(join(ort.dir, f))), f).toBe(true);
      expect(res.headers['content-type'], f).toMatch(f.endsWith('.wasm') ? /application\/wasm/ : /javascript/);
      expect(res.headers['cross-origin-embedder-policy']).toBe('require-corp');
    }
    // other files of the package (its whole dist/ is 136 MB) and paths out of it are not served
    for (const u of ['/ort/ort.min.mjs', '/ort/../package.json', '/ort/%2e%2e/package.json', '/ort/'])
      expect((await app.inject({ method: 'GET', url: u })).statusCode, u).toBe(404);
    await app.close();
  });

  it('answers 503 on /ort/ when the app was built with another onnxruntime-web', async () => {
    writeFileSync(join(dir, ORT_BUILD_MANIFEST), JSON.stringify({ onnxruntimeWeb: '0.0.1' }));
    const app = Fastify();
    await app.register(webRoutes, { webDir: dir });
    const res = await app.inject({ method: 'GET', url: `/ort/${ORT_WEB_FILES[1]}` });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('E_PROVIDER_UNAVAILABLE');
    expect(res.json().error.message).toMatch(/built with onnxruntime-web 0\.0\.1 but .* installed/);
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(200);
    rmSync(join(dir, ORT_BUILD_MANIFEST));
    await app.close();
  });

  it('says how to build the app when there is none', async () => {
    const app = Fastify();
    await app.register(webRoutes, { webDir: join(dir, 'nothing-here') });
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build:web');
    await app.close();
  });
});
