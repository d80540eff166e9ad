/** The control plane's web app routes: isolation headers on the built app, a clear page without one. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { webRoutes } from '../../src/cloud/plugins/web.ts';

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

  it('says how to build the app when there is none', async () => {
    const app = Fastify();
    await app.register(webRoutes, { webDir: join(dir, 'nothing-here') });
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build:web');
    await app.close();
  });
});
