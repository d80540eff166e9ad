/**
 * `verge demo browser`: serve verge's browser app (cross-origin isolated, so onnxruntime-web may
 * use WASM threads) and point at its training page, where the seed CNN is built, trained on the
 * Fashion-MNIST subset and used to classify drawings — all inside the tab. Without a built app it
 * is built first (needs the development dependencies: a source checkout after `npm ci`).
 * `runInHeadlessChromium` drives the same page in Debian's chromium and returns its outcome.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { DEFAULT_WEB_DIR, ISOLATION_HEADERS, webRoutes } from '../cloud/index.ts';
import { VergeError } from '../errors.ts';
import type { TrainingOutcome } from '../web/training-outcome.ts';

export const TRAIN_PAGE = 'train.html';

export interface BrowserDemoOptions {
  /** The built app (default: the package's dist/app). */
  webDir?: string;
  host?: string;
  /** 0 = a free port. */
  port?: number;
  /** Called before a build starts (it takes a few seconds). */
  onBuild?: (dir: string) => void;
}

export interface BrowserDemo {
  url: string;
  trainUrl: string;
  webDir: string;
  /** The app was built by this call. */
  built: boolean;
  close(): Promise<void>;
}

/** Serve the app; builds it into `webDir` first when there is none. */
export async function serveBrowserDemo(opts: BrowserDemoOptions = {}): Promise<BrowserDemo> {
  const webDir = opts.webDir ?? DEFAULT_WEB_DIR;
  let built = false;
  if (!existsSync(join(webDir, TRAIN_PAGE))) {
    let build: typeof import('../web/build.ts');
    try {
      build = await import('../web/build.ts');
    } catch {
      throw new VergeError(
        'E_UNSUPPORTED',
        `no browser app in ${webDir}, and it cannot be built here (esbuild is a development dependency): run npm run build:web in a source checkout`,
      );
    }
    opts.onBuild?.(webDir);
    await build.buildWebApp(webDir);
    built = true;
  }
  const app = Fastify();
  await app.register(webRoutes, { webDir });
  const host = opts.host ?? '127.0.0.1';
  try {
    await app.listen({ port: opts.port ?? 0, host });
  } catch (e) {
    await app.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE' || err.code === 'EACCES')
      throw new VergeError('E_NETWORK', `cannot listen on ${host}:${opts.port}: ${err.code}; pass another --port`);
    throw e;
  }
  const port = (app.server.address() as { port: number }).port;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  return { url, trainUrl: `${url}/${TRAIN_PAGE}`, webDir, built, close: () => app.close() };
}

/** The headers a page needs for WASM threads, as `verge demo browser --once` checks them. */
export function isolationHeadersPresent(headers: Headers): boolean {
  return Object.entries(ISOLATION_HEADERS).every(([k, v]) => headers.get(k) === v);
}

export interface HeadlessRun {
  samples: number;
  epochs: number;
  batch: number;
  /** Give up after this long (ms). */
  timeoutMs: number;
}

/** Train in the page inside headless chromium (auto mode) and return what the tab reports. */
export async function runInHeadlessChromium(trainUrl: string, run: HeadlessRun): Promise<TrainingOutcome> {
  const { launchChromium } = await import('../web/chromium.ts');
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${trainUrl}?auto=1&samples=${run.samples}&epochs=${run.epochs}&batch=${run.batch}`);
    await page.waitForFunction("['done', 'error'].includes(document.body.dataset.state)", undefined, {
      timeout: run.timeoutMs,
      polling: 500,
    });
    return (await page.evaluate('window.vergeTraining')) as TrainingOutcome;
  } finally {
    await browser.close();
  }
}
