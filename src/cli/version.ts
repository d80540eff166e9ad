/** verge's version: package.json's, read from the package root (two folders above src/cli or dist/cli). */
import { readFileSync } from 'node:fs';

export const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
