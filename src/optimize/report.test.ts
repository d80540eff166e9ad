import { describe, expect, it } from 'vitest';
import type { Precision } from './measure.ts';
import { buildReport, reportMarkdown, reportSvg } from './report.ts';
import { measuredVariant } from '../../test/optimize/measured-variants.ts';
import { selectVariant } from './variants.ts';

/** Descriptions hold markup the SVG must escape; accuracy is on the report's 500 test samples. */
const variant = (name: string, precision: Precision, bytes: number, accuracy: number, p50: Record<number, number>) =>
  measuredVariant(name, precision, bytes, accuracy, p50, { description: `${name} <desc>`, samples: 500 });
const measured = [
  variant('fp32', 'fp32', 400_000, 0.9, { 1: 0.2, 32: 4 }),
  variant('int8-static', 'int8', 100_000, 0.895, { 1: 0.1, 32: 1 }),
  variant('filters', 'fp32', 120_000, 0.88, { 1: 0.05, 32: 2 }),
];

describe('optimize report', () => {
  const choice = selectVariant(measured, {
    name: 'camera',
    memory_mb: 2, // 0.5 MB for a loaded model; the made-up variants take 3× their file loaded
    latency_budget_ms: 1,
    batch: 1,
    precisions: ['fp32', 'int8'],
  });
  const r = buildReport('cnn.onnx', { source: 'test', test_samples: 500 }, 2, measured, { fp32: 'fp32.onnx' }, choice);

  it('reports no per-sample outcomes (they are for the significance test only)', () => {
    const withOutcomes = measured.map((v) => ({ ...v, correct: new Uint8Array(500) }));
    const rr = buildReport('cnn.onnx', { source: 'test', test_samples: 500 }, 2, withOutcomes);
    expect(rr.variants.every((v) => !('correct' in v))).toBe(true);
  });

  it('computes ratios to fp32 and accuracy drops in points', () => {
    const q = r.variants.find((v) => v.name === 'int8-static')!;
    expect(q.bytes_ratio).toBe(0.25);
    expect(q.accuracy_drop_pt).toBe(0.5);
    expect(q.latency_ratio).toEqual({ b1: 0.5, b32: 0.25 });
    expect(r.target?.selected).toBe('int8-static');
    expect(r.variants[0]!.file).toBe('fp32.onnx');
  });

  it('renders a Markdown table with one row per variant and the target section', () => {
    const md = reportMarkdown(r);
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'));
    expect(rows).toHaveLength(1 + measured.length);
    expect(md).toContain(
      '| **int8-static** (selected) | int8 | 97.7 | 0.250 | 0.29 (B=1), 0.29 (B=32) | 89.50 | 0.50 | 0.100 | 0.500 | 1.000 | 0.250 |',
    );
    expect(md).toContain('## Target: camera');
    expect(md).toMatch(/- fp32: 1\.144 MB loaded at batch 1 exceeds the 0\.500 MB budget/);
    expect(md).toContain("Budget: 0.50 MB of loaded memory (25% of the device's 2 MB)");
  });

  it('draws two panels with one point per variant, escaping text', () => {
    const svg = reportSvg(r);
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<circle [^>]*r="5"[^>]*><title>/g)).toHaveLength(2 * measured.length);
    expect(svg).toContain('accuracy vs size');
    expect(svg).toContain('accuracy vs latency (batch 1)');
    expect(svg).toContain('selected for camera');
    expect(svg).not.toContain('<desc>');
    // balanced tags: every opened element is closed
    const opened = (svg.match(/<(rect|circle|line|text|svg)\b[^>]*[^/]>/g) ?? []).length;
    const closed = (svg.match(/<\/(rect|circle|line|text|svg)>/g) ?? []).length;
    expect(opened).toBe(closed);
  });

  it('lists the nodes each quantized variant left in float, and the quantizer notes', () => {
    const skipped = { node: 'conv1', op: 'Conv', reason: 'reduction depth 9 (in-channels × kernel) < 24' };
    const withDetails = buildReport('cnn.onnx', { source: 'test', test_samples: 500 }, 2, measured, {}, undefined, {
      'int8-static': { quantize: { skipped: [skipped], notes: ["Relu 'r1' moved behind MaxPool 'p1'"] } },
      filters: { prune: {} },
    });
    const q = withDetails.variants.find((v) => v.name === 'int8-static')!;
    expect(q.left_float).toEqual([skipped]);
    expect(q.notes).toEqual(["Relu 'r1' moved behind MaxPool 'p1'"]);
    expect(withDetails.variants.find((v) => v.name === 'filters')).not.toHaveProperty('left_float');
    const md = reportMarkdown(withDetails);
    expect(md).toContain('  - left in float: `conv1` (Conv): reduction depth 9 (in-channels × kernel) < 24');
    expect(md).toContain("  - note: Relu 'r1' moved behind MaxPool 'p1'");
  });
});
