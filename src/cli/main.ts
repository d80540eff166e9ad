/**
 * verge command line. Thin: each file in ./commands registers one command (or a group) with
 * commander and calls the library. Errors become one line `CODE: message` and a non-zero exit.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { VergeError } from '../errors.ts';

const here = dirname(fileURLToPath(import.meta.url));

export async function buildProgram(): Promise<Command> {
  const program = new Command('verge')
    .description('verge: build, train, compress, deploy and run ONNX models on edge devices')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });
  const dir = join(here, 'commands');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .sort();
  for (const f of files) {
    const mod = (await import(join(dir, f))) as { register?: (p: Command) => void };
    mod.register?.(program);
  }
  program.exitOverride();
  return program;
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (usage errors, --help, --version)
    return e.exitCode;
  }
  if (e instanceof VergeError) {
    process.stderr.write(`error: ${e.toLine()}\n`);
    return 1;
  }
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  process.stderr.write(`error: E_INTERNAL: ${msg}\n`);
  if (process.env.VERGE_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? ''}\n`);
  return 70;
}

async function main(): Promise<void> {
  try {
    const program = await buildProgram();
    await program.parseAsync(process.argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

await main();
