// `node --import ./trace-imports.mjs …`: prints every module URL the process resolves on stderr as
// `IMPORT <url>` (used by startup.test.ts to check what `verge --help` loads).
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function resolve(spec, ctx, next) {
      const r = await next(spec, ctx);
      process._rawDebug('IMPORT ' + r.url);
      return r;
    }`),
  import.meta.url,
);
