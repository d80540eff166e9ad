/**
 * The browser app at `/`: the fleet dashboard (index.html) and the in-browser training page
 * (train.html), static files built by src/web/build.ts (`npm run build:web`, part of the package
 * build). Pages are served cross-origin isolated (COOP/COEP) so onnxruntime-web may use WASM
 * threads. Without a built app, `/` says how to build it instead of answering 404.
 *
 * onnxruntime-web's WebAssembly files (`/ort/`) are served from the installed onnxruntime-web
 * package, not copied into the built app, so the npm package carries them once. The app's build
 * records the onnxruntime-web version its bundles hold (ORT_BUILD_MANIFEST); a different installed
 * version answers 503 on `/ort/` (its JavaScript and WebAssembly must match) instead of a tab that
 * fails to start.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { VergeError } from '../../errors.ts';
import { errorReply } from '../../protocol/index.ts';

/** Cross-origin isolation: SharedArrayBuffer (WASM threads) needs both. */
export const ISOLATION_HEADERS = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
} as const);

/** Where the pages load onnxruntime-web's files from (relative to the site root). */
export const ORT_ASSETS_PATH = 'ort/';
/**
 * The files served there: the WebAssembly provider's loader and binary (runtime/backends/web-cpu.ts)
 * and their JSEP builds for WebGPU (web.ts); src/web/build.ts's flavors pick one pair.
 */
export const ORT_WEB_FILES: readonly string[] = Object.freeze([
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort-wasm-simd-threaded.jsep.mjs',
  'ort-wasm-simd-threaded.jsep.wasm',
]);
/** Written by the app's build beside index.html: `{ "onnxruntimeWeb": "<version>" }`. */
export const ORT_BUILD_MANIFEST = 'ort-build.json';

/** The installed onnxruntime-web: its dist/ folder (the package exports each WASM file by name) and version. */
export function installedOrtWeb(): { dir: string; version: string } | undefined {
  const require = createRequire(import.meta.url);
  try {
    const dir = dirname(require.resolve(`onnxruntime-web/${ORT_WEB_FILES[1]}`));
    const pkg = JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { version: string };
    return { dir, version: pkg.version };
  } catch {
    return undefined;
  }
}

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
    await ortAssets(app, webDir);
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

async function ortAssets(app: Parameters<FastifyPluginAsync>[0], webDir: string): Promise<void> {
  const ort = installedOrtWeb();
  const manifest = join(webDir, ORT_BUILD_MANIFEST);
  const built = existsSync(manifest)
    ? (JSON.parse(readFileSync(manifest, 'utf8')) as { onnxruntimeWeb?: string }).onnxruntimeWeb
    : undefined;
  const problem = !ort
    ? 'onnxruntime-web is not installed'
    : built && built !== ort.version
      ? `the app was built with onnxruntime-web ${built} but ${ort.version} is installed: rebuild it (npm run build:web)`
      : undefined;
  if (problem || !ort) {
    // the browser's runtime is missing on this server: its status comes from the one code → status map
    const { status, body } = errorReply(new VergeError('E_PROVIDER_UNAVAILABLE', problem!));
    app.get(`/${ORT_ASSETS_PATH}*`, { schema: { hide: true } }, async (_req, reply) => reply.code(status).send(body));
    return;
  }
  await app.register(fastifyStatic, {
    root: ort.dir,
    prefix: `/${ORT_ASSETS_PATH}`,
    decorateReply: false,
    index: false,
    allowedPath: (path) => ORT_WEB_FILES.includes(path.replace(/^\//, '')),
    setHeaders: (reply) => void reply.headers(ISOLATION_HEADERS),
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
