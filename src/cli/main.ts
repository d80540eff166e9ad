/**
 * verge command line. Thin: ./commands declares each command (light, see ./command.ts), ./actions
 * does the work and is imported only for the command that runs. Errors become one line
 * `error: CODE: message` and a non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { VergeError } from '../errors.ts';
import { warnSecretsOnArgv } from './options.ts';
import { registerCommands } from './registry.ts';
import { VERSION } from './version.ts';

/** Exit code of a usage error (unknown command or option, bad flag value), as commander's. */
const USAGE_EXIT = 1;

/** A commander error message as one `error: E_BAD_ARGUMENT: …` line. */
export function usageLine(message: string): string {
  const line = message
    .trim()
    .replace(/^error: /, '')
    .replace(/\s*\n\(Did you mean (.*)\?\)$/, ' (did you mean $1?)')
    .replace(/\s*\n\s*/g, ' ');
  return `error: E_BAD_ARGUMENT: ${line}${line.includes('(did you mean') ? '' : ' (see --help)'}\n`;
}

/** The verge program with every command declared. */
export async function buildProgram(): Promise<Command> {
  const program = new Command('verge')
    .description('verge: build, train, compress, deploy and run ONNX models on edge devices')
    .version(VERSION)
    // `model publish --version V` is the CLI contract: without positional options commander would
    // take it for the program's own --version flag, wherever it appears
    .enablePositionalOptions()
    // commander's usage errors in the house format, one line:
    // `error: E_BAD_ARGUMENT: unknown command 'infp' (did you mean info?)`
    .configureOutput({ outputError: (str, write) => write(usageLine(str)) })
    .hook('preAction', (_program, command) => warnSecretsOnArgv(command));
  await registerCommands(program);
  program.exitOverride();
  return program;
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (usage errors, --help, --version)
    return e.exitCode === 0 ? 0 : USAGE_EXIT;
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

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    const program = await buildProgram();
    await program.parseAsync(argv as string[]);
  } catch (e) {
    process.exitCode = reportError(e);
  }
}
