/**
 * Builds verge's browser app (the fleet dashboard and the in-browser training page) into a folder
 * of static files that `verge cloud` serves at `/`: esbuild bundles src/web/app/*.ts for browsers
 * (the "browser" condition selects the onnxruntime-web runtime backend), and onnxruntime-web's
 * WebAssembly files and the Fashion-MNIST subset are copied from the npm package and the repo, so
 * the pages never load anything from a CDN. Node-only (build time); `npm run build:web`.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { VergeError } from '../errors.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
/** The pages (one bundle each) under src/web/app/. */
export const WEB_ENTRIES = ['dashboard', 'train', 'bench'] as const;
/** onnxruntime-web's WebAssembly build with the WebGPU provider (JSEP) and its loader. */
export const ORT_WASM_FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];
/** Where the pages find the files (relative to the site root). */
export const ORT_ASSETS_PATH = 'ort/';
export const FASHION_DATA_PATH = 'data/fashion-mnist/';

export interface WebBuildResult {
  outDir: string;
  /** Every input file esbuild bundled (for the browser-path check in the tests). */
  inputs: string[];
  /** Bytes of each output file, by path relative to outDir. */
  bytes: Record<string, number>;
}

/** Build the app into `outDir` (replaced). Fails with E_INTERNAL when a browser bundle cannot be made. */
export async function buildWebApp(outDir: string, opts: { minify?: boolean } = {}): Promise<WebBuildResult> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, ORT_ASSETS_PATH), { recursive: true });
  mkdirSync(join(outDir, FASHION_DATA_PATH), { recursive: true });
  let metafile: Metafile;
  try {
    ({ metafile } = await build({
      entryPoints: WEB_ENTRIES.map((e) => join(HERE, 'app', `${e}.ts`)),
      outdir: join(outDir, 'assets'),
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      // onnxruntime-web then loads its WASM loader from ORT_ASSETS_PATH instead of inlining it, so
      // its worker threads start from that file rather than from verge's bundle
      conditions: ['onnxruntime-web-use-extern-wasm'],
      minify: opts.minify ?? true,
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      loader: { '.css': 'css' },
    }));
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string } | null }[] }).errors ?? [];
    const first = errors[0];
    throw new VergeError(
      'E_INTERNAL',
      first ? `browser bundle: ${first.text}${first.location ? ` (${first.location.file})` : ''}` : String(e),
    );
  }
  // the package exports each WASM file by name (its package.json is not exported)
  const require = createRequire(import.meta.url);
  for (const f of ORT_WASM_FILES)
    copyFileSync(require.resolve(`onnxruntime-web/${f}`), join(outDir, ORT_ASSETS_PATH, f));
  for (const f of readdirSync(join(HERE, 'static'))) copyFileSync(join(HERE, 'static', f), join(outDir, f));
  const subset = join(REPO, 'data', 'fashion-mnist-subset');
  if (existsSync(subset))
    for (const f of readdirSync(subset)) copyFileSync(join(subset, f), join(outDir, FASHION_DATA_PATH, f));
  const bytes: Record<string, number> = {};
  for (const [file, out] of Object.entries(metafile.outputs)) bytes[file.slice(file.indexOf('assets/'))] = out.bytes;
  return { outDir, inputs: Object.keys(metafile.inputs), bytes };
}

// `tsx src/web/build.ts <outDir>` (npm run build:web)
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = resolve(process.argv[2] ?? join(REPO, 'dist', 'web'));
  buildWebApp(out).then(
    (r) => console.log(`built ${Object.keys(r.bytes).length} bundles into ${out}`),
    (e: Error) => {
      console.error(`error: ${e.message}`);
      process.exit(1);
    },
  );
}
