/**
 * The browser app at `/`: the fleet dashboard (index.html) and the in-browser training page
 * (train.html), static files built by src/web/build.ts (`npm run build:web`, part of the package
 * build). Pages are served cross-origin isolated (COOP/COEP) so onnxruntime-web may use WASM
 * threads. Without a built app, `/` says how to build it instead of answering 404.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** Cross-origin isolation: SharedArrayBuffer (WASM threads) needs both. */
export const ISOLATION_HEADERS = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
} as const);

export const webRoutes: FastifyPluginAsync<{ webDir: string | null }> = async (app, { webDir }) => {
  if (webDir && existsSync(join(webDir, 'assets'))) {
    await app.register(fastifyStatic, {
      root: webDir,
      prefix: '/',
      index: ['index.html'],
      // hashed names are not used: pages must see a rebuilt app at the next load
      cacheControl: false,
      setHeaders: (reply) => void reply.headers(ISOLATION_HEADERS),
    });
    return;
  }
  const why = webDir ? `${webDir} holds no built app` : 'this control plane was started without a web app';
  app.get('/', { schema: { hide: true } }, async (_req, reply) =>
    reply
      .code(503)
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><title>verge</title><h1>verge control plane</h1><p>The dashboard is not built (${escapeHtml(why)}). ` +
          'Build it with <code>npm run build:web</code> and restart <code>verge cloud</code>. The API is at ' +
          '<a href="/docs">/docs</a> (Swagger UI; the document: <a href="/openapi.json">/openapi.json</a>).</p>',
      ),
  );
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
