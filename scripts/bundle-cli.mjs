// Bundles the compiled CLI (dist/cli/, after `tsc -p tsconfig.build.json`) in place, so the
// installed `verge` starts from a few files instead of hundreds: Node 20 resolves, reads and links
// every ES module separately, and the CLI is ~800 of them (the shape engine's
// per-operator files, protobuf-es). Measured by bench/cli-startup (issue 15's start-up targets).
//
// Layout kept as tsc wrote it, because the CLI finds things relative to its own files:
// dist/cli/main.js (what bin/launch.js imports), dist/cli/commands/<name>.js (cli/registry.ts lists
// that folder to declare the commands), and shared chunks beside main.js in dist/cli/ (same depth
// as the modules they replace, so paths made from import.meta.url still resolve). Each command's
// work (cli/actions) is still imported only when that command runs: esbuild splits every dynamic
// import into its own chunk. Packages stay external (native addons, worker files) except the
// pure-JS ones that the cheap commands load at every start.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli');
/** Pure-JS packages bundled into the CLI (everything else is imported from node_modules). */
const INLINE = new Set(['@bufbuild/protobuf', 'onnx-buf', 'commander']);

/** The package a bare import names ('@scope/name/sub' -> '@scope/name'), or null for a path or '#' import. */
function packageOf(spec) {
  if (/^(\.|\/|#|node:)/.test(spec)) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}
/** Every package import stays an import from node_modules, except the INLINE ones. */
const externalPackages = {
  name: 'external-packages',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const name = packageOf(args.path);
      return name !== null && !INLINE.has(name) ? { path: args.path, external: true } : undefined;
    });
  },
};

const isCode = (f) => f.endsWith('.js') && !f.endsWith('.test.js');
const commands = readdirSync(join(CLI, 'commands'))
  .filter(isCode)
  .map((f) => join(CLI, 'commands', f));

const result = await build({
  entryPoints: [join(CLI, 'main.js'), ...commands],
  outdir: CLI,
  outbase: CLI,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [externalPackages],
  // commander is CommonJS: its require('node:events') needs a require in the ES module output
  banner: {
    js: "import { createRequire as __vergeCreateRequire } from 'node:module';\nconst require = __vergeCreateRequire(import.meta.url);",
  },
  chunkNames: '[name]-[hash]',
  write: false,
  metafile: true,
  logLevel: 'error',
});

// Replace the compiled JavaScript of dist/cli with the bundle (declarations stay for the types).
function removeJs(dir) {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) removeJs(p);
    else if (f.endsWith('.js')) rmSync(p);
  }
}
removeJs(CLI);
for (const out of result.outputFiles) {
  mkdirSync(dirname(out.path), { recursive: true });
  writeFileSync(out.path, out.contents);
}
const inputs = Object.keys(result.metafile.inputs).length;
console.log(`bundled the CLI: ${inputs} modules into ${result.outputFiles.length} files in dist/cli`);
