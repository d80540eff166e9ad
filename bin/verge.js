#!/usr/bin/env node
// verge runs its TypeScript sources directly through tsx (installed as a dependency), so
// `npm ci` is the whole set-up: no build step, nothing downloaded.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
