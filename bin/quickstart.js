#!/usr/bin/env node
// `npm start`: the end-to-end quickstart (src/cli/quickstart.ts), run through tsx like bin/verge.js.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/quickstart.ts');
await main();
