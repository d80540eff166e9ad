/**
 * Builds verge's browser app (the fleet dashboard and the in-browser training page) into a folder
 * of static files that `verge cloud` serves at `/`: esbuild bundles src/web/app/*.ts for browsers
 * (the "browser" condition selects the onnxruntime-web runtime backend), and the Fashion-MNIST
 * subset is copied from the repo. onnxruntime-web's WebAssembly files are not copied: the server
 * (cloud/plugins/web.ts) serves them at ort/ from the installed package, checked against the
 * version recorded here. The pages never load anything from a CDN. Node-only (build time);
 * `npm run build:web`.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { installedOrtWeb, ORT_BUILD_MANIFEST } from '../cloud/index.ts';
import { VergeError } from '../errors.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
/** The pages (one bundle each) under src/web/app/. */
export const WEB_ENTRIES = ['dashboard', 'train', 'bench', 'bench-worker', 'replica-worker'] as const;
/**
 * onnxruntime-web builds the app can ship: `cpu` is the WebAssembly provider alone
 * (`onnxruntime-web/wasm`, runtime/backends/web-cpu.ts; it loads ort-wasm-simd-threaded.mjs/.wasm),
 * `webgpu` adds the WebGPU provider (JSEP, compiled with Asyncify, which makes its CPU kernels about
 * half as fast: bench/browser; it loads the .jsep.mjs/.wasm pair). The server has both pairs.
 */
export const ORT_FLAVORS = {
  cpu: { backend: 'web-cpu.ts' },
  webgpu: { backend: 'web.ts' },
} as const;
export type OrtFlavor = keyof typeof ORT_FLAVORS;
export const DEFAULT_ORT_FLAVOR: OrtFlavor = 'cpu';
export const FASHION_DATA_PATH = 'data/fashion-mnist/';

export interface WebBuildResult {
  outDir: string;
  /** Every input file esbuild bundled (for the browser-path check in the tests). */
  inputs: string[];
  /** Bytes of each output file, by path relative to outDir. */
  bytes: Record<string, number>;
}

/** Build the app into `outDir` (replaced). Fails with E_INTERNAL when a browser bundle cannot be made. */
export async function buildWebApp(
  outDir: string,
  opts: { minify?: boolean; ort?: OrtFlavor } = {},
): Promise<WebBuildResult> {
  const flavor = ORT_FLAVORS[opts.ort ?? DEFAULT_ORT_FLAVOR];
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, FASHION_DATA_PATH), { recursive: true });
  const { metafile } = await bundle({
    ...browserOptions(flavor.backend),
    entryPoints: WEB_ENTRIES.map((e) => join(HERE, 'app', `${e}.ts`)),
    outdir: join(outDir, 'assets'),
    splitting: true,
    minify: opts.minify ?? true,
    sourcemap: 'linked',
    loader: { '.css': 'css' },
  });
  const ort = installedOrtWeb();
  if (!ort) throw new VergeError('E_INTERNAL', 'onnxruntime-web is not installed');
  writeFileSync(join(outDir, ORT_BUILD_MANIFEST), `${JSON.stringify({ onnxruntimeWeb: ort.version })}\n`);
  for (const f of readdirSync(join(HERE, 'static'))) copyFileSync(join(HERE, 'static', f), join(outDir, f));
  const subset = join(REPO, 'data', 'fashion-mnist-subset');
  if (existsSync(subset))
    for (const f of readdirSync(subset)) copyFileSync(join(subset, f), join(outDir, FASHION_DATA_PATH, f));
  const bytes: Record<string, number> = {};
  for (const [file, out] of Object.entries(metafile.outputs)) bytes[file.slice(file.indexOf('assets/'))] = out.bytes;
  return { outDir, inputs: Object.keys(metafile.inputs), bytes };
}

/** How verge bundles for browsers: ESM for es2022, the runtime's browser backend, no Node module. */
function browserOptions(backend: string): BuildOptions {
  return {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // onnxruntime-web then loads its WASM loader from ORT_ASSETS_PATH instead of inlining it, so
    // its worker threads start from that file rather than from verge's bundle
    conditions: ['onnxruntime-web-use-extern-wasm'],
    metafile: true,
    logLevel: 'silent',
    inject: [join(HERE, 'buffer-global.ts')],
    plugins: [runtimeBackend(join(REPO, 'src', 'runtime', 'backends', backend))],
  };
}

/** esbuild's build, its first error as one E_INTERNAL line. */
async function bundle(options: BuildOptions): Promise<{ metafile: Metafile }> {
  try {
    const r = await build(options);
    return { metafile: r.metafile! };
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string } | null }[] }).errors ?? [];
    const first = errors[0];
    throw new VergeError(
      'E_INTERNAL',
      first ? `browser bundle: ${first.text}${first.location ? ` (${first.location.file})` : ''}` : String(e),
    );
  }
}

/**
 * Bundle one module for browsers (in memory, nothing written) and list every input esbuild took
 * in: a module on the browser path that reaches a Node module fails with E_INTERNAL naming it.
 */
export async function browserBundleInputs(entry: string): Promise<string[]> {
  const { metafile } = await bundle({
    ...browserOptions(ORT_FLAVORS[DEFAULT_ORT_FLAVOR].backend),
    entryPoints: [entry],
    write: false,
    outdir: 'out',
  });
  return Object.keys(metafile.inputs);
}

/** The runtime's `#ort` import resolves to the chosen browser backend. */
function runtimeBackend(file: string): Plugin {
  return {
    name: 'verge-runtime-backend',
    setup: (b) => void b.onResolve({ filter: /^#ort$/ }, () => ({ path: file })),
  };
}

// `tsx src/web/build.ts [outDir] [--ort cpu|webgpu]` (npm run build:web)
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--ort');
  const ort = at >= 0 ? args.splice(at, 2)[1] : DEFAULT_ORT_FLAVOR;
  if (!(ort! in ORT_FLAVORS)) {
    console.error(`error: E_BAD_ARGUMENT: --ort must be ${Object.keys(ORT_FLAVORS).join(' or ')}, got '${ort}'`);
    process.exit(1);
  }
  const out = resolve(args[0] ?? join(REPO, 'dist', 'app'));
  buildWebApp(out, { ort: ort as OrtFlavor }).then(
    (r) => console.log(`built ${Object.keys(r.bytes).length} bundles into ${out}`),
    (e: Error) => {
      console.error(`error: ${e.message}`);
      process.exit(1);
    },
  );
}
