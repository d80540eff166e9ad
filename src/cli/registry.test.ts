import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { commandFiles, registerCommands } from './registry.ts';
import { verge } from '../../test/cli/cli.ts';

describe('registerCommands', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verge-registry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const cmd = (name: string) =>
    `export function register(p) { p.command('${name}').description('${name} summary').action(() => {}); }\n`;
  writeFileSync(join(dir, 'alpha.ts'), cmd('alpha'));
  writeFileSync(join(dir, 'beta.js'), cmd('beta'));
  writeFileSync(join(dir, 'alpha.test.ts'), 'throw new Error("a test file must not be loaded");\n');
  writeFileSync(join(dir, 'alpha.d.ts'), 'export declare function register(p: unknown): void;\n');

  it('lists declaration files (.ts sources, .js compiled), not tests or type declarations', () => {
    expect(commandFiles(dir)).toEqual(['alpha.ts', 'beta.js']);
  });
  it('registers every declared command; a new file shows up without registering it anywhere', async () => {
    writeFileSync(join(dir, 'gamma.ts'), cmd('gamma'));
    const program = new Command('t');
    await registerCommands(program, dir);
    expect(program.commands.map((c) => c.name())).toEqual(['alpha', 'beta', 'gamma']);
  });
  it('a file without register(program) is an error naming it', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'verge-registry-bad-'));
    writeFileSync(join(bad, 'oops.ts'), 'export const x = 1;\n');
    await expect(registerCommands(new Command('t'), bad)).rejects.toThrow(/oops\.ts .* does not export register/);
    rmSync(bad, { recursive: true, force: true });
  });
});

describe('verge (real CLI)', () => {
  it('top-level help lists every declared command', async () => {
    const program = new Command('verge');
    await registerCommands(program);
    const registered = program.commands.map((c) => c.name());
    expect(registered.length).toBeGreaterThanOrEqual(commandFiles().length);
    const r = await verge(['--help']);
    expect(r.code).toBe(0);
    const listed = [...r.stdout.matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]);
    expect(listed.filter((n) => n !== 'help').sort()).toEqual([...registered].sort());
  }, 60_000);
  it('an unknown command is an E_BAD_ARGUMENT line with a suggestion, exit 1', async () => {
    const r = await verge(['infp', 'x.onnx']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: E_BAD_ARGUMENT: unknown command 'infp' (did you mean info?)\n");
    expect(r.stdout).toBe('');
  }, 60_000);
  it("a value outside a flag's choices names the choices, exit 1", async () => {
    const r = await verge(['prune', 'x.onnx', '--sparsity', '0.5', '--norm', 'l3', '--out', 'y.onnx']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: E_BAD_ARGUMENT: option '--norm <n>' argument 'l3' is invalid\. Allowed choices are l1, l2\./,
    );
  }, 60_000);
  it('help <cmd>, subcommand help and --version work', async () => {
    const h = await verge(['help', 'info']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^Usage: verge info \[options\] <model>/);
    const sub = await verge(['devices', 'revoke', '--help']);
    expect(sub.stdout).toMatch(/^Usage: verge devices revoke \[options\] <device>/);
    const v = await verge(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  }, 60_000);
});
