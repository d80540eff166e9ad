/**
 * Flag parsers for command declarations (commander `argParser`s) and the option groups several
 * commands share. Light on purpose: every command declaration imports this file when `verge
 * --help` runs, so it imports commander and verge's error type, nothing else.
 *
 * A parser throws `E_BAD_ARGUMENT` naming the flag; main.ts prints it as one line. Commander does
 * not pass declared defaults through the parser: give defaults already parsed (`64`, not `'64'`).
 * Fixed sets of words use commander's `.choices()` (see `choice`).
 */
import { Option, type Command } from 'commander';
import { VergeError } from '../errors.ts';
import { readFileSync, statSync } from 'node:fs';

export interface NumberBounds {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** Values must be greater than this (exclusive lower bound, e.g. 0 for "positive"). */
  above?: number;
  /** Values must be less than this (exclusive upper bound, e.g. 1 for a fraction below one). */
  below?: number;
}

function describe(b: NumberBounds): string {
  const parts: string[] = [];
  if (b.min !== undefined) parts.push(`>= ${b.min}`);
  if (b.above !== undefined) parts.push(`> ${b.above}`);
  if (b.max !== undefined) parts.push(`<= ${b.max}`);
  if (b.below !== undefined) parts.push(`< ${b.below}`);
  return parts.join(' and ');
}

function checkBounds(flag: string, n: number, b: NumberBounds): number {
  const ok =
    (b.min === undefined || n >= b.min) &&
    (b.max === undefined || n <= b.max) &&
    (b.above === undefined || n > b.above) &&
    (b.below === undefined || n < b.below);
  if (!ok) throw new VergeError('E_BAD_ARGUMENT', `${flag} must be ${describe(b)}, got ${n}`);
  return n;
}

/** Parse `value` as a finite number within `bounds`, or E_BAD_ARGUMENT naming `flag`. */
export function parseNumber(flag: string, value: string, bounds: NumberBounds = {}): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be a number, got '${value}'`);
  return checkBounds(flag, n, bounds);
}

/** Parse `value` as a whole number within `bounds`, or E_BAD_ARGUMENT naming `flag`. */
export function parseInteger(flag: string, value: string, bounds: NumberBounds = {}): number {
  const n = Number(value);
  if (!/^\s*[-+]?\d+\s*$/.test(value) || !Number.isSafeInteger(n))
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be an integer, got '${value}'`);
  return checkBounds(flag, n, bounds);
}

/** argParser: a number within bounds (`--lr`, `--sparsity`, …). */
export const number =
  (flag: string, bounds: NumberBounds = {}) =>
  (value: string): number =>
    parseNumber(flag, value, bounds);

/** argParser: an integer within bounds (`--batch`, `--epochs`, …). */
export const integer =
  (flag: string, bounds: NumberBounds = {}) =>
  (value: string): number =>
    parseInteger(flag, value, bounds);

/** argParser: an integer ≥ 1. */
export const positiveInt = (flag: string) => integer(flag, { min: 1 });
/** argParser: an integer ≥ 0. */
export const nonNegativeInt = (flag: string) => integer(flag, { min: 0 });
/** argParser: a TCP port, 0 meaning "any free port". */
export const port = (flag: string) => integer(flag, { min: 0, max: 65535 });

/** argParser: a comma-separated list of numbers, each parsed by `item`. */
export const numberList =
  (flag: string, item: (value: string) => number) =>
  (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim());
    if (parts.some((p) => p === ''))
      throw new VergeError('E_BAD_ARGUMENT', `${flag} takes a comma-separated list, got '${value}'`);
    return parts.map(item);
  };

/** argParser: a comma-separated list of words (empty items dropped). */
export const wordList = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** argParser of a repeatable flag: every occurrence appended (`--tag a=1 --tag b=2`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** argParser of a repeatable `key=value` flag into a record (`--tag site=lab`). */
export const keyValue =
  (flag: string) =>
  (value: string, previous: Record<string, string> = {}): Record<string, string> => {
    const i = value.indexOf('=');
    if (i <= 0) throw new VergeError('E_BAD_ARGUMENT', `${flag} expects key=value, got '${value}'`);
    return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
  };

/** An option whose value is one of `values` (commander checks it and lists them in help). */
export function choice(flags: string, description: string, values: readonly string[], fallback?: string): Option {
  const o = new Option(flags, description).choices(values);
  return fallback === undefined ? o : o.default(fallback);
}

/** The options every operator command takes to find and authenticate with the control plane. */
export function cloudOptions(command: Command): Command {
  return command
    .option('--cloud <url>', 'control plane URL (or VERGE_CLOUD)')
    .option('--api-key <key>', 'API key (or VERGE_API_KEY; shown by `ps` to every user: prefer --api-key-file)')
    .option('--api-key-file <path>', 'read the API key from this file (first line)', (p: string) =>
      readSecretFile(p, '--api-key-file'),
    )
    .option('--data-dir <dir>', "read the admin key from a local cloud's data dir");
}

/** The values of `cloudOptions`. */
export interface CloudCliOptions {
  cloud?: string;
  apiKey?: string;
  /** The key read from --api-key-file (the option's parser reads the file). */
  apiKeyFile?: string;
  dataDir?: string;
}

/** Options whose value is a secret, and where else the secret can come from. */
const SECRET_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  apiKey: '--api-key-file or VERGE_API_KEY',
  enrollToken: '--enroll-token-file',
});

/**
 * One stderr line per secret given on the command line, which `ps` shows to every user of the
 * machine. Still accepted (scripts and quickstarts use it on single-user machines), but said.
 */
export function warnSecretsOnArgv(command: Command, write = (line: string) => process.stderr.write(line)): void {
  for (const option of command.options) {
    const instead = SECRET_OPTIONS[option.attributeName()];
    if (instead && command.getOptionValueSource(option.attributeName()) === 'cli')
      write(`warning: ${option.long} shows the secret to every user of this machine (ps): use ${instead}\n`);
  }
}

/** Largest secret file read (a password, key or URL; a wrong path to a big file is refused, not read). */
const MAX_SECRET_FILE_BYTES = 4096;

/**
 * A secret from a file (`--…-file` options): the process list shows argv to every user, a file is
 * readable by whom its mode allows. The first line, without its line break; empty or too large is refused.
 */
export function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    if (statSync(path).size > MAX_SECRET_FILE_BYTES)
      throw new VergeError('E_BAD_ARGUMENT', `${what}: ${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof VergeError) throw e;
    throw new VergeError('E_FILE_NOT_FOUND', `${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code})`);
  }
  const secret = text.split(/\r?\n/, 1)[0]!;
  if (!secret) throw new VergeError('E_BAD_ARGUMENT', `${what}: ${path} is empty`);
  return secret;
}
