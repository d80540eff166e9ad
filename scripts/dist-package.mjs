// Writes dist/package.json after `tsc -p tsconfig.build.json`. Files under dist/ resolve the
// package's "#..." imports (the runtime backend seam, "#ort") through the nearest package.json, so
// dist/ gets the root's "imports" map with ./src/**/*.ts targets rewritten to the compiled files.
import { readFileSync, writeFileSync } from 'node:fs';

const root = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const rewrite = (target) =>
  typeof target === 'string'
    ? target.replace(/^\.\/src\//, './').replace(/\.ts$/, '.js')
    : Object.fromEntries(Object.entries(target).map(([k, v]) => [k, rewrite(v)]));
const imports = Object.fromEntries(Object.entries(root.imports ?? {}).map(([k, v]) => [k, rewrite(v)]));
writeFileSync(
  new URL('../dist/package.json', import.meta.url),
  JSON.stringify({ type: 'module', imports }, null, 2) + '\n',
);
