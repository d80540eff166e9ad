/**
 * verge command line. Thin: each file in ./commands registers one command (or a group) with
 * commander and calls the library. Errors become one line `CODE: message` and a non-zero exit.
 *
 * Start-up: command modules import heavy libraries (onnxruntime, the control plane, ...), so
 * only the invoked command's module is loaded (see ./registry.ts); help, no command and unknown
 * commands load them all.
 */
import { Command, CommanderError } from 'commander';
import { VergeError } from '../errors.ts';
import { commandModulesFor } from './registry.ts';

export const VERSION = process.env.npm_package_version ?? '0.1.0';

/**
 * The verge program with the commands `argv` (user arguments, without node and script) needs
 * registered; with no `argv`, every command.
 */
export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('verge')
    .description('verge: build, train, compress, deploy and run ONNX models on edge devices')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });
  await commandModulesFor(
    argv,
    (mod) => mod.register?.(program),
    () => program.commands,
  );
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
    const program = await buildProgram(process.argv.slice(2));
    await program.parseAsync(process.argv);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}

await main();
