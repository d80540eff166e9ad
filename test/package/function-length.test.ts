/**
 * Issue 17: functions over ~120 lines in src/ are the exception, each with a reason in its
 * comment. Every function of src/ (declarations, methods, arrow functions, callbacks; tests
 * excluded) longer than MAX_LINES must carry `Long because: <reason>` in the comment before it
 * (its doc comment, or the comment before the statement that holds it). Parsing only, no type
 * checking: TypeScript's parser over every file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/cli.ts';

/** The "~120 lines" (STYLE.md: functions a reader can hold in their head). */
const MAX_LINES = 120;
const MARKER = /Long because:\s*\S/;

interface LongFunction {
  where: string;
  name: string;
  lines: number;
  reason: boolean;
}

function nameOf(n: ts.FunctionLikeDeclaration, sf: ts.SourceFile): string {
  if (n.name) return n.name.getText(sf);
  const p = n.parent;
  if ((ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p)) && p.name)
    return p.name.getText(sf);
  return '(callback)';
}

/** Comments before n and before each enclosing node up to the statement or class member holding it. */
function leadingComments(n: ts.Node, sf: ts.SourceFile): string {
  const text = sf.getFullText();
  const out: string[] = [];
  for (let at: ts.Node | undefined = n; at && !ts.isSourceFile(at); at = at.parent) {
    for (const c of ts.getLeadingCommentRanges(text, at.getFullStart()) ?? []) out.push(text.slice(c.pos, c.end));
    if (ts.isStatement(at) || ts.isClassElement(at)) break;
  }
  return out.join('\n');
}

/** Every function of one source text longer than maxLines. */
function longFunctions(file: string, source: string, maxLines = MAX_LINES): LongFunction[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body) {
      const first = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const lines = sf.getLineAndCharacterOfPosition(n.getEnd()).line - first + 1;
      if (lines > maxLines)
        found.push({
          where: `${file}:${first + 1}`,
          name: nameOf(n as ts.FunctionLikeDeclaration, sf),
          lines,
          reason: MARKER.test(leadingComments(n, sf)),
        });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

const SOURCES = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
  .sort();

describe(`functions over ${MAX_LINES} lines in src/`, () => {
  const long = SOURCES.flatMap((f) => longFunctions(`src/${f}`, readFileSync(join(ROOT, 'src', f), 'utf8')));

  it('each says why in its comment (Long because: …)', () => {
    expect(SOURCES.length).toBeGreaterThan(300);
    expect(long.filter((f) => !f.reason).map((f) => `${f.where} ${f.name} (${f.lines} lines)`)).toEqual([]);
  });

  it('are the exception', () => {
    // 12 at the time of writing, each with its reason: a bound, so that adding long functions is noticed
    expect(long.length).toBeLessThanOrEqual(15);
  });

  it('finds a long function and reads the reason before it', () => {
    const body = Array.from({ length: 130 }, (_, i) => `  x += ${i};`).join('\n');
    const src = [
      `export function a(): number {\n  let x = 0;\n${body}\n  return x;\n}`,
      `/** Long because: one table of cases. */\nexport function b(): number {\n  let x = 0;\n${body}\n  return x;\n}`,
      `// Long because: a route per verb, in one closure over the app.\nexport const c = () => {\n  let x = 0;\n${body}\n};`,
      `register(async () => {\n  let x = 0;\n${body}\n});`,
      `export function short(): number {\n  return 1;\n}`,
    ].join('\n\n');
    expect(longFunctions('t.ts', src).map((f) => [f.name, f.reason])).toEqual([
      ['a', false],
      ['b', true],
      ['c', true],
      ['(callback)', false],
    ]);
  });
});
