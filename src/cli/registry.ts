/**
 * Which command modules to load. Every non-test `.ts` file in ./commands is a command module
 * exporting `register(program)`; adding a file adds its commands, nothing else to edit.
 *
 * Loading all of them costs about a second (they import onnxruntime, the control plane, ...),
 * so a command is looked up by file name first: `verge info ...` loads only commands/info.ts.
 * When that file does not register a command of that name (a module registering several
 * commands, e.g. deploy.ts's `deployments`), when no command is named (`verge`, `verge --help`,
 * `verge help`) and for unknown commands, every module is loaded so help lists them all and
 * commander's "unknown command" error can suggest the nearest name. `verge help <cmd>` loads like
 * `verge <cmd>`; `--version` loads none.
 *
 * A command module may only add its own commands (no program-level options or hooks): the
 * program an invocation sees must not depend on which other modules were loaded.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

export const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'commands');

export interface CommandModule {
  register?: (program: Command) => void;
}

/** Command module file names (`info.ts`, ...) in `dir`, sorted. */
export function commandFiles(dir: string = COMMANDS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
    .sort();
}

/** Program-level options that end the run before any command is needed. */
const VERSION_FLAGS = new Set(['-V', '--version']);

/**
 * The command an invocation names: its first argument, or for `help <cmd>` the second. Undefined
 * when there is none (no arguments, a program option first, bare `help`).
 */
function commandName(argv: readonly string[]): string | undefined {
  const name = argv[0] === 'help' ? argv[1] : argv[0];
  return name === undefined || name.startsWith('-') ? undefined : name;
}

/**
 * The modules an invocation needs: `'none'`, `'all'`, or the one file named like the command.
 * `argv` are the user's arguments (without node and the script); undefined means all.
 */
export function plan(argv: readonly string[] | undefined, files: readonly string[]): 'none' | 'all' | string {
  if (argv === undefined) return 'all';
  if (argv[0] !== undefined && VERSION_FLAGS.has(argv[0])) return 'none';
  const name = commandName(argv);
  if (name === undefined) return 'all';
  const file = `${name}.ts`;
  return files.includes(file) ? file : 'all';
}

/**
 * Import the modules `argv` needs and hand each to `use` (in file-name order). `registered`
 * reports the program's commands after that, to check a single loaded file really provided the
 * command (otherwise the rest are loaded too).
 */
export async function commandModulesFor(
  argv: readonly string[] | undefined,
  use: (mod: CommandModule, file: string) => void,
  registered: () => readonly Command[],
  dir: string = COMMANDS_DIR,
): Promise<void> {
  const files = commandFiles(dir);
  const p = plan(argv, files);
  if (p === 'none') return;
  const load = async (f: string): Promise<void> => use((await import(join(dir, f))) as CommandModule, f);
  if (p !== 'all') {
    await load(p);
    const name = commandName(argv!)!;
    if (registered().some((c) => c.name() === name || c.aliases().includes(name))) return;
  }
  for (const f of files) if (f !== p) await load(f);
}
