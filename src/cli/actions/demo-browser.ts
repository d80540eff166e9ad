/** `verge demo browser`: serve the browser app and say where its training page is; --headless trains in chromium. */
import { isolationHeadersPresent, runInHeadlessChromium, serveBrowserDemo } from '../../demo/index.ts';
import { VergeError } from '../../errors.ts';
import { emit, note } from '../output.ts';

interface DemoBrowserOptions {
  port: number;
  host: string;
  webDir?: string;
  once?: boolean;
  headless?: boolean;
  samples: number;
  epochs: number;
  json?: boolean;
}

/** Batch of the headless run: the page's default. */
const HEADLESS_BATCH = 64;
/** A loaded 2-core machine trains 2 epochs of 1,024 samples in a few minutes. */
const HEADLESS_TIMEOUT_MS = 15 * 60_000;

export default async function demoBrowser(opts: DemoBrowserOptions): Promise<void> {
  const demo = await serveBrowserDemo({
    webDir: opts.webDir,
    host: opts.host,
    port: opts.port,
    onBuild: (dir) => note(`building the browser app into ${dir} (once)…`),
  });
  try {
    const page = await fetch(demo.trainUrl).catch(() => null);
    if (!page?.ok) throw new VergeError('E_NETWORK', `the training page at ${demo.trainUrl} did not load`);
    const info = {
      url: demo.url,
      train_url: demo.trainUrl,
      web_dir: demo.webDir,
      built: demo.built,
      cross_origin_isolated: isolationHeadersPresent(page.headers),
    };
    if (opts.headless) {
      note(`training in headless chromium: ${opts.samples} samples, ${opts.epochs} epoch(s)…`);
      const o = await runInHeadlessChromium(demo.trainUrl, {
        samples: opts.samples,
        epochs: opts.epochs,
        batch: HEADLESS_BATCH,
        timeoutMs: HEADLESS_TIMEOUT_MS,
      });
      if (o.state !== 'done') throw new VergeError('E_RUNTIME', `training in the tab failed: ${o.error ?? o.state}`);
      const result = {
        ...info,
        backend: o.backend,
        threads: o.threads,
        epochs: o.history.length,
        final_loss: o.history.at(-1)?.loss ?? null,
        test_accuracy: o.test?.accuracy ?? null,
        test_samples: o.test?.samples ?? null,
        samples_per_sec: o.samplesPerSec ?? null,
      };
      emit(opts, result, () =>
        [
          `verge demo browser: trained the seed CNN in a chromium tab on ${o.backend}`,
          `  ${result.epochs} epoch(s), final loss ${result.final_loss?.toFixed(4)}, test accuracy ${((result.test_accuracy ?? 0) * 100).toFixed(1)}% on ${result.test_samples} images, ${result.samples_per_sec?.toFixed(0)} samples/s`,
          `  page: ${demo.trainUrl}`,
        ].join('\n'),
      );
      return;
    }
    emit(opts, info, () =>
      [
        `verge demo browser: open ${demo.trainUrl}`,
        '  it builds the seed CNN, trains it on Fashion-MNIST in the tab (Train), then classifies test images and your drawings',
        `  served from ${demo.webDir}${info.cross_origin_isolated ? ' (cross-origin isolated: WASM threads on)' : ''}`,
        '  the fleet dashboard is served by `verge cloud` at its own URL; Ctrl-C stops this server',
      ].join('\n'),
    );
    if (opts.once) return;
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  } finally {
    await demo.close();
  }
}
