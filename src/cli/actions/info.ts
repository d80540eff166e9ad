/**
 * `verge info <model.onnx> [--json]`: a model's interface, op histogram, parameter count, size and
 * multiply-accumulate estimate, from the IR alone (no runtime).
 */
import { modelInfo, type ModelInfo, type TensorSummary, decodeModel } from '../../onnx/browser.ts';
import { readBytes } from '../../onnx/index.ts';
import { basename } from 'node:path';
import { emit, table } from '../output.ts';

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** (1,234,567, 'MAC') -> '1.23 MMAC' for the human summary. */
function approx(n: number, unit = ''): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k${unit}`;
  return `${n}${unit ? ` ${unit}` : ''}`;
}

function shapeText(t: TensorSummary): string {
  return t.shape ? `[${t.shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '(rank unknown)';
}

export function formatInfo(path: string, info: ModelInfo): string {
  const lines: string[] = [];
  const otherOpsets = Object.entries(info.opsets)
    .filter(([d]) => d !== '' && d !== 'ai.onnx')
    .map(([d, v]) => `${d} ${v}`);
  lines.push(`${path}`);
  lines.push(
    `  opset ${info.opset ?? 'none'}${otherOpsets.length ? ` (+ ${otherOpsets.join(', ')})` : ''}, IR version ${info.irVersion}` +
      (info.producer ? `, produced by ${info.producer}` : ''),
  );
  // A quantized model keeps most weights in integer initializers: name them, or the float count alone misleads.
  const integerWeights = info.initializerElements - info.parameters;
  const weights =
    integerWeights > info.parameters
      ? `${fmt(info.parameters)} float parameters + ${fmt(integerWeights)} integer weights (${approx(info.initializerElements)} in all)`
      : `${fmt(info.parameters)} parameters (${approx(info.parameters)})`;
  lines.push(`  ${fmt(info.bytes)} bytes, ${weights}`);
  lines.push(
    `  ${fmt(info.macs)} multiply-accumulates per sample (${approx(info.macs, 'MAC')})` +
      (info.macsUnknownNodes ? `; ${info.macsUnknownNodes} more node(s) whose MACs are unknown (not counted)` : ''),
  );
  lines.push(`  ${fmt(info.nodes)} nodes${info.subgraphNodes ? ` (+ ${fmt(info.subgraphNodes)} in subgraphs)` : ''}`);
  lines.push('');
  lines.push(
    table(
      ['', 'name', 'type', 'shape'],
      [
        ...info.inputs.map((t) => ['input', t.name, t.dtype, shapeText(t)]),
        ...info.outputs.map((t) => ['output', t.name, t.dtype, shapeText(t)]),
      ],
    ),
  );
  lines.push('');
  const ops = Object.entries(info.ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  lines.push(table(['op', 'count'], ops));
  return lines.join('\n');
}

/** `verge info <model> [--json]` */
export default function info(path: string, opts: { json?: boolean }): void {
  const bytes = readBytes(path);
  const model = decodeModel(bytes, basename(path));
  const result = modelInfo(model, { bytes: bytes.length });
  emit(opts, result, () => formatInfo(path, result));
}
