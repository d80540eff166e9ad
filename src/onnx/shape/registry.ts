/** Registry of shape rules by (domain, op type). */
import { deepFreeze } from '../../frozen.ts';
import * as contrib from './contrib/index.ts';
import * as ops from './ops/index.ts';
import type { ShapeRule } from './rule.ts';

const rules = new Map<string, ShapeRule>();

function key(domain: string, op: string): string {
  return `${domain}::${op}`;
}

/** Add a rule; domain '' is ai.onnx. Not exported: the rules are the files in ops/ and contrib/ (no global mutation). */
function registerShapeRule(rule: ShapeRule): void {
  rules.set(key(rule.domain ?? '', rule.op), rule);
}

// frozen: the rule records are exported by their files (nothing mutable exported)
for (const rule of [...Object.values(ops), ...Object.values(contrib)] as ShapeRule[])
  registerShapeRule(deepFreeze(rule));

export function ruleFor(domain: string, op: string): ShapeRule | undefined {
  return rules.get(key(domain === 'ai.onnx' ? '' : domain, op));
}

/** Op types with a rule in `domain` (default: ai.onnx). */
export function shapeRuleOps(domain = ''): string[] {
  return [...rules.values()]
    .filter((r) => (r.domain ?? '') === domain)
    .map((r) => r.op)
    .sort();
}
