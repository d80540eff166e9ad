/**
 * How a verge command is declared. A command is two files:
 *
 * - `src/cli/commands/<name>.ts`, the declaration: `export function register(program: Command)`
 *   adding the command with commander (name, summary, arguments, options with their parsers and
 *   choices, help text) and `.action(action(() => import('../actions/<name>.ts')))`. It imports
 *   only commander, `../options.ts`, this file and light constants (no zod, onnxruntime, fastify,
 *   protobuf: `test/cli/startup.test.ts` fails otherwise), so `verge --help` reads every
 *   declaration without loading any command's work.
 * - `src/cli/actions/<name>.ts`, the work: `export default async function (...args, opts)` with
 *   commander's positional arguments then the parsed options. It calls the library and prints
 *   through `../output.ts`. Actions do not import each other; what two share lives in a module
 *   of src/cli/ (e.g. `deployment-report.ts`) or in the library.
 */

/** A command's work: the default export of `src/cli/actions/<name>.ts`. */
export interface ActionModule {
  // commander passes positional arguments, then the options object, then the Command
  default: (...args: never[]) => unknown;
}

/** The commander action that imports the command's module when (and only when) it runs. */
export function action(load: () => Promise<ActionModule>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const mod = await load();
    await (mod.default as (...a: unknown[]) => unknown)(...args);
  };
}
