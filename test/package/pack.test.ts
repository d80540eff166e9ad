/**
 * verge as an installed package: `npm run build` + `npm pack` (what prepack does), the tarball's
 * contents, then a fresh temporary project that installs only the tarball and, under plain Node
 * (no TypeScript loader), imports every entry of the exports map, trains a tiny model, saves,
 * reloads and runs it, runs the `verge` bin, and type-checks a consumer file against the shipped
 * .d.ts files.
 *
 * The install is offline: the consumer's lock is derived from the repository's (same versions and
 * integrities), so `npm ci --offline` takes every tarball from npm's cache, which the repository's
 * own `npm ci` filled. Install scripts are off (`--ignore-scripts`): onnxruntime-node ships its CPU
 * binaries in the package (its script would only download CUDA providers), and better-sqlite3's
 * script would fetch a prebuilt binary from the network; nothing here opens a database.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerLock } from './consumer-lock.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; import: string }>;
  files: string[];
};
/** The layers the package must publish (issue 15), besides `.`. */
const REQUIRED_ENTRIES = ['nn', 'train', 'data', 'runtime', 'onnx', 'optimize', 'fl', 'cloud', 'edge', 'protocol'];
const HEAVY_TIMEOUT_MS = 900_000;
/**
 * Names a tarball that `npm run build` + `npm pack --ignore-scripts` made from this checkout:
 * .ci/run packs one before the suite (the container test installs it too) and sets this, so the
 * suite does not build dist/ a second time (~50 s of CPU on a 2-core machine). Unset, the test
 * builds and packs itself.
 */
const PACKED_TARBALL_ENV = 'VERGE_PACKED_TARBALL';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ...env, npm_config_update_notifier: 'false' },
    maxBuffer: 64 * 2 ** 20,
  });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

describe('exports map', () => {
  it('has an entry for every layer the issue lists and for every src/<layer>/index.ts', () => {
    const layers = readdirSync(join(ROOT, 'src'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(ROOT, 'src', d.name, 'index.ts')))
      .map((d) => d.name)
      .filter((l) => l !== 'cli'); // the CLI is the bin, not a library entry
    const entries = Object.keys(PKG.exports).filter((k) => k.startsWith('./') && k !== './package.json');
    for (const l of [...REQUIRED_ENTRIES, ...layers]) {
      expect(entries, `exports lacks ./${l}`).toContain(`./${l}`);
      const e = PKG.exports[`./${l}`] as { types: string; import: string };
      expect(e).toEqual({ types: `./dist/${l}/index.d.ts`, import: `./dist/${l}/index.js` });
    }
    for (const l of entries)
      expect(existsSync(join(ROOT, 'src', l.slice(2), 'index.ts')), `${l} has no source`).toBe(true);
  });
});

describe('npm pack → install into a fresh project → plain Node', () => {
  let work = '';
  let tarball = '';
  let files: string[] = [];
  let project = '';

  let unpacked = '';

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'verge-pack-'));
    const prePacked = process.env[PACKED_TARBALL_ENV];
    if (prePacked) {
      // .ci/run's own `npm run build` + `npm pack` of this checkout: not built a second time
      tarball = join(work, basename(prePacked));
      copyFileSync(prePacked, tarball);
    } else {
      // the build (what prepack runs) first: its progress lines would otherwise precede pack's JSON
      ok(run('npm', ['run', 'build'], ROOT), 'npm run build');
      const packArgs = ['pack', '--json', '--ignore-scripts', '--pack-destination', work];
      const packed = JSON.parse(ok(run('npm', packArgs, ROOT), 'npm pack')) as { filename: string }[];
      tarball = join(work, packed[0].filename);
    }
    // what the tarball holds, read from the tarball itself
    unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    ok(run('tar', ['-xzf', tarball, '-C', unpacked], work), 'tar -x');
    files = ok(run('tar', ['-tzf', tarball], work), 'tar -t')
      .split('\n')
      .filter((f) => f.startsWith('package/') && !f.endsWith('/'))
      .map((f) => f.slice('package/'.length));
  }, HEAVY_TIMEOUT_MS);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships compiled JavaScript, declarations, the bin and docs — no sources, tests, fixtures or benchmarks', () => {
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('bin/verge.js');
    expect(files).toContain('LICENSE');
    for (const e of Object.values(PKG.exports)) {
      const targets = typeof e === 'string' ? [e] : [e.types, e.import];
      for (const t of targets) expect(files, `tarball lacks ${t}`).toContain(t.replace(/^\.\//, ''));
    }
    const unwanted = files.filter(
      (f) =>
        /^(src|test|bench|scripts|deploy|\.ci)\//.test(f) ||
        /\.test\.(js|d\.ts)$/.test(f) ||
        /(^|\/)fixtures\//.test(f) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    expect(unwanted).toEqual([]);
    // onnxruntime-web's WASM binaries (14–28 MB each) are served from the installed package
    expect(files.filter((f) => f.endsWith('.wasm'))).toEqual([]);
    // test support lives in test/ (docs/architecture.md, "Where tests go"): no helper module named
    // for tests compiles into dist/ (src/optimize/test-variants.ts once did)
    const testSupport = files.filter((f) =>
      /(^|\/)(test|tests|testing|test-[^/]*|[^/]*[-_.]test|[^/]*-helpers?|helpers?)(\/|\.(m?js|d\.ts)$)/.test(f),
    );
    expect(testSupport).toEqual([]);
  });

  it('ships every module its own JavaScript imports (relative static and dynamic imports resolve)', () => {
    // the web app's build once emptied dist/web after tsc had compiled src/web there, so the
    // installed `verge demo browser` imported ../web/build.js that the tarball did not carry
    const shipped = new Set(files);
    const missing: string[] = [];
    for (const f of files.filter((p) => /^(dist|bin)\/.*\.m?js$/.test(p) && !p.startsWith('dist/app/'))) {
      // block comments and whole-line comments out: they show import examples (`../actions/<name>.ts`)
      const text = readFileSync(join(unpacked, 'package', f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g)) {
        const target = posix.normalize(posix.join(posix.dirname(f), m[2]));
        if (!shipped.has(target)) missing.push(`${f} imports ${m[2]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it(
    'installs offline from the tarball and imports, trains, saves and runs a model under plain Node',
    () => {
      project = join(work, 'consumer');
      ok(run('mkdir', ['-p', project], work), 'mkdir');
      const name = 'verge-edge.tgz';
      copyFileSync(tarball, join(project, name));
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({
          name: 'consumer',
          version: '1.0.0',
          private: true,
          type: 'module',
          dependencies: { [PKG.name]: `file:${name}` },
          allowScripts: { 'onnxruntime-node': false },
        }),
      );
      writeFileSync(
        join(project, 'package-lock.json'),
        JSON.stringify(consumerLock(join(ROOT, 'package-lock.json'), join(project, name), name)),
      );
      const install = run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
      if (install.status !== 0 && /ENOTCACHED/.test(install.stderr) && process.env.CI !== 'true') {
        console.warn(`skipped: npm's cache lacks a dependency tarball (run npm ci in the repository first)`);
        return;
      }
      ok(install, 'npm ci --offline');
      expect(existsSync(join(project, 'node_modules', 'tsx'))).toBe(false); // dev dependencies stay out

      copyFileSync(join(import.meta.dirname, 'consumer', 'train-and-run.mjs'), join(project, 'train-and-run.mjs'));
      // plain node: no loader, no NODE_OPTIONS inherited from the test runner
      const r = ok(run(process.execPath, ['train-and-run.mjs'], project, { NODE_OPTIONS: '' }), 'consumer script');
      const out = JSON.parse(r.trim().split('\n').at(-1)!) as {
        entries: Record<string, number>;
        accuracy: number;
        saved: boolean;
        parameters: number;
        outputDims: number[];
        loaders: string[];
        browserApp: { built: boolean; page: number; wasm: number; wasmType: string; wasmBytes: number };
      };
      expect(out.loaders).toEqual([]);
      for (const l of REQUIRED_ENTRIES) expect(out.entries[l], `verge-edge/${l} exports nothing`).toBeGreaterThan(0);
      expect(out.saved).toBe(true);
      expect(out.parameters).toBe(4 * 8 + 8 + 8 * 2 + 2);
      expect(out.outputDims).toEqual([2, 2]);
      expect(out.accuracy).toBeGreaterThan(0.9); // two well-separated blobs
      // the installed package's browser app: built into the tarball, its WASM from onnxruntime-web
      expect(out.browserApp).toMatchObject({ built: false, page: 200, wasm: 200 });
      expect(out.browserApp.wasmType).toMatch(/application\/wasm/);
      expect(out.browserApp.wasmBytes).toBeGreaterThan(1e6);

      const bin = join(project, 'node_modules', '.bin', 'verge');
      const version = ok(run(bin, ['--version'], project, { NODE_OPTIONS: '' }), 'verge --version');
      expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
      const help = ok(run(bin, ['--help'], project, { NODE_OPTIONS: '' }), 'verge --help');
      expect(help).toMatch(/train/);
      // the bin is a bundle (scripts/bundle-cli.mjs): a command's work is a chunk loaded when it runs,
      // and onnxruntime-node stays a package import
      copyFileSync(join(ROOT, 'test', 'fixtures', 'models', 'seed_cnn_fmnist.onnx'), join(project, 'seed.onnx'));
      const info = ok(run(bin, ['info', 'seed.onnx'], project, { NODE_OPTIONS: '' }), 'verge info');
      expect(info).toMatch(/121,930 parameters/);
      const quantize = run(bin, ['quantize', 'seed.onnx', '--mode', 'dynamic', '--out', 'q.onnx'], project, {
        NODE_OPTIONS: '',
      });
      ok(quantize, 'verge quantize');
      expect(existsSync(join(project, 'q.onnx'))).toBe(true);
    },
    HEAVY_TIMEOUT_MS,
  );

  it(
    'type-checks a TypeScript consumer against the shipped declarations',
    () => {
      if (!existsSync(join(project, 'node_modules', PKG.name))) return; // the install above was skipped
      copyFileSync(join(import.meta.dirname, 'consumer', 'typed.ts'), join(project, 'typed.ts'));
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const args = [
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
      ];
      // the consumer's own @types/node (from the repository here)
      args.push('--types', 'node', '--typeRoots', join(ROOT, 'node_modules', '@types'), 'typed.ts');
      const r = run(process.execPath, [tsc, ...args], project);
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    },
    HEAVY_TIMEOUT_MS,
  );
});
