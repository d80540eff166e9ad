/**
 * The command declarations. Every non-test file in ./commands declares one command (or a group)
 * with `register(program)`; adding a file adds its commands, nothing else to edit (see
 * ./command.ts for the shape). Declarations are light, so all of them are loaded on every start:
 * help lists every command with its options without importing any command's work, which lives in
 * ./actions and is imported only by the action of the command that runs.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from 'commander';

export const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'commands');

export interface CommandDeclaration {
  register: (program: Command) => void;
}

/**
 * Declaration file names in `dir`, sorted: `.ts` in the sources, `.js` in the compiled package
 * (never tests or type declarations).
 */
export function commandFiles(dir: string = COMMANDS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(ts|js)$/.test(f) && !/\.(test|d)\.(ts|js)$/.test(f))
    .sort();
}

/** Register every declared command on `program`, in file-name order. */
export async function registerCommands(program: Command, dir: string = COMMANDS_DIR): Promise<void> {
  const mods = await Promise.all(
    commandFiles(dir).map((f) => import(pathToFileURL(join(dir, f)).href) as Promise<CommandDeclaration>),
  );
  for (const [i, mod] of mods.entries()) {
    if (typeof mod.register !== 'function')
      throw new Error(`${commandFiles(dir)[i]} in ${dir} does not export register(program)`);
    mod.register(program);
  }
}
