#!/usr/bin/env node
import { runCli } from './launch.js';

await runCli(process.argv.slice(2));
