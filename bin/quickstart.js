#!/usr/bin/env node
// `npm start [-- --once --json …]`: the end-to-end quickstart, i.e. `verge demo quickstart …`.
import { runCli } from './launch.js';

await runCli(['demo', 'quickstart', ...process.argv.slice(2)]);
