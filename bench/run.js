#!/usr/bin/env node
// `npm run bench -- <name> [args]` runs bench/<name>.ts; without a name, lists the benchmarks.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'lib.ts')
  .map((f) => f.replace(/\.ts$/, ''));
const name = process.argv[2];
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name> [options]\nbenchmarks: ${names.join(', ')}\n`);
  process.exit(name ? 2 : 0);
}
process.argv.splice(2, 1);
register();
await import(join(here, `${name}.ts`));
