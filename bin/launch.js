// Starts the CLI. In the installed package it runs the compiled JavaScript in dist/; in a source
// checkout (src/ next to bin/) it runs the TypeScript sources through tsx (a dev dependency), so
// `npm ci` needs no build and a change to src/ shows at the next run.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);

export async function runCli(args) {
  const argv = [process.argv[0], process.argv[1], ...args];
  if (existsSync(sources)) {
    const { register } = await import('tsx/esm/api');
    register();
    const { main } = await import(sources.href);
    return main(argv);
  }
  const { main } = await import('../dist/cli/main.js');
  return main(argv);
}
