import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { commandFiles, commandModulesFor, plan } from './registry.ts';
import { verge } from '../../test/cli/cli.ts';

const files = ['alpha.ts', 'beta.ts', 'group.ts'];

describe('plan', () => {
  it('loads only the file named like the command', () => {
    expect(plan(['alpha', 'x.onnx', '--json'], files)).toBe('alpha.ts');
    expect(plan(['beta', '--help'], files)).toBe('beta.ts');
    expect(plan(['help', 'beta'], files)).toBe('beta.ts');
  });
  it('loads nothing for --version', () => {
    expect(plan(['--version'], files)).toBe('none');
    expect(plan(['-V'], files)).toBe('none');
  });
  it('loads everything for help, no command, other options and unknown names', () => {
    for (const argv of [
      [],
      ['--help'],
      ['-h'],
      ['help'],
      ['help', '--help'],
      ['help', 'gamma'],
      ['gamma'],
      ['../alpha'],
      ['alpha.ts'],
    ]) {
      expect(plan(argv, files), argv.join(' ')).toBe('all');
    }
    expect(plan(undefined, files)).toBe('all');
  });
});

describe('commandModulesFor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verge-registry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cmd = (name: string) =>
    `export function register(p) { p.command('${name}').description('${name} summary').action(() => {}); }\n`;
  writeFileSync(join(dir, 'alpha.ts'), cmd('alpha'));
  writeFileSync(join(dir, 'beta.ts'), cmd('beta'));
  // a module whose file name is not one of its commands
  writeFileSync(join(dir, 'group.ts'), cmd('grouped'));
  writeFileSync(join(dir, 'alpha.test.ts'), 'throw new Error("a test file must not be loaded");\n');

  async function load(argv: string[] | undefined): Promise<{ loaded: string[]; names: string[] }> {
    const program = new Command('t');
    const loaded: string[] = [];
    await commandModulesFor(
      argv,
      (mod, f) => {
        loaded.push(f);
        mod.register?.(program);
      },
      () => program.commands,
      dir,
    );
    return { loaded, names: program.commands.map((c) => c.name()) };
  }

  it('lists command files without tests', () => {
    expect(commandFiles(dir)).toEqual(['alpha.ts', 'beta.ts', 'group.ts']);
  });
  it('imports one module for a command named like its file', async () => {
    expect(await load(['beta', 'arg'])).toEqual({ loaded: ['beta.ts'], names: ['beta'] });
  });
  it('imports all when the named file does not register that command', async () => {
    for (const argv of [['group'], ['help', 'group']]) {
      const r = await load(argv);
      expect(r.loaded).toEqual(['group.ts', 'alpha.ts', 'beta.ts']);
      expect(r.names.sort()).toEqual(['alpha', 'beta', 'grouped']);
    }
  });
  it('help <cmd> imports like <cmd>', async () => {
    expect(await load(['help', 'alpha'])).toEqual({ loaded: ['alpha.ts'], names: ['alpha'] });
  });
  it('imports all, in file order, for help and unknown commands; none for --version', async () => {
    for (const argv of [['--help'], ['grouped'], ['nope'], []]) {
      expect((await load(argv)).loaded).toEqual(['alpha.ts', 'beta.ts', 'group.ts']);
    }
    expect((await load(['--version'])).loaded).toEqual([]);
  });
  it('a new file shows up without registering it anywhere', async () => {
    writeFileSync(join(dir, 'delta.ts'), cmd('delta'));
    expect((await load(['delta'])).loaded).toEqual(['delta.ts']);
    expect((await load(['--help'])).names).toContain('delta');
  });
});

describe('verge (real CLI)', () => {
  it('top-level help lists every command of every command module', async () => {
    const program = new Command('verge');
    await commandModulesFor(
      undefined,
      (mod) => mod.register?.(program),
      () => program.commands,
    );
    const registered = program.commands.map((c) => c.name());
    expect(registered.length).toBeGreaterThanOrEqual(commandFiles().length);
    const r = await verge(['--help']);
    expect(r.code).toBe(0);
    const listed = [...r.stdout.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]);
    expect(listed.filter((n) => n !== 'help').sort()).toEqual([...registered].sort());
  }, 60_000);
  it('an unknown command is one error line with a suggestion, exit 1', async () => {
    const r = await verge(['infp', 'x.onnx']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: unknown command 'infp'\n\(Did you mean info\?\)/);
    expect(r.stdout).toBe('');
  }, 60_000);
  it('help <cmd> and --version work', async () => {
    const h = await verge(['help', 'info']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: verge info \[options\] <model>/);
    const v = await verge(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  }, 60_000);
  it('a command whose name is not a file name (deployments) still runs through the full registry', async () => {
    const r = await verge(['deployments', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: verge deployments/);
  }, 60_000);
});
