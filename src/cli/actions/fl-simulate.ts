/**
 * `verge fl simulate`: a federation of virtual clients in this process (src/fl/simulation.ts),
 * with a progress line per round (accuracy, uplink, seconds per round and ETA) on stderr, a
 * round-by-round accuracy chart written as SVG, and with --json one object on stdout.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { meanStd } from '../../data/browser.ts';
import { describeDataset, loadDataset } from '../../data/index.ts';
import { VergeError } from '../../errors.ts';
import {
  parseCompression,
  describePartition,
  parsePartition,
  accuracyChartSvg,
  simulate,
  type ClientLrSchedule,
  type RoundReport,
} from '../../fl/index.ts';
import { buildArchitecture } from '../../nn/index.ts';
import type { Model } from '../../onnx/browser.ts';
import { loadModel, saveModel, writeFileAtomic } from '../../onnx/index.ts';
import { emit, note, peakRssMb, table } from '../output.ts';

/** Parsed flags: numbers arrive parsed and bounded by the declaration (commands/fl.ts). */
export interface SimulateFlags {
  model?: string;
  arch: string;
  data: string;
  limit?: number;
  limitTest?: number;
  clients: number;
  partition: string;
  rounds: number;
  strategy: string;
  fractionFit?: number;
  minFitClients?: number;
  localEpochs: number;
  localSteps?: number;
  batch: number;
  lr?: number;
  lrDecay?: number;
  lrMin?: number;
  lrSchedule?: ClientLrSchedule;
  momentum?: number;
  freezeHead?: boolean;
  restrictedSoftmax?: number;
  logitCalibration?: number;
  clientOptimizer: 'sgd' | 'adam';
  compress?: string;
  secureAgg?: boolean;
  drop: number;
  dpClip?: number;
  dpNoise?: number;
  dpDelta?: number;
  malicious: number;
  seed: number;
  threads?: number;
  plot: string | false;
  out?: string;
  json?: boolean;
}

function checkWritable(path: string, flag: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new VergeError('E_FILE_NOT_FOUND', `${flag}: folder ${dir} does not exist`);
}

function fmtBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

function fmtDuration(s: number): string {
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${Math.round((s % 3600) / 60)}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s`
      : `${Math.round(s)}s`;
}

function dpOptions(f: SimulateFlags) {
  const { dpClip: clip, dpNoise: noise } = f;
  if ((clip === undefined) !== (noise === undefined))
    throw new VergeError('E_BAD_ARGUMENT', 'DP needs both --dp-clip C and --dp-noise Z');
  if (clip === undefined || noise === undefined) return undefined;
  return { clip, noiseMultiplier: noise, ...(f.dpDelta !== undefined ? { delta: f.dpDelta } : {}) };
}

/** `verge fl simulate …` */
export default async function flSimulate(f: SimulateFlags): Promise<void> {
  const { clients, rounds, seed } = f;
  const partition = parsePartition(f.partition);
  const compress = parseCompression(f.compress);
  const dp = dpOptions(f);
  if (f.plot) checkWritable(f.plot, '--plot');
  if (f.out) checkWritable(f.out, '--out');
  const limits = { ...(f.limit ? { train: f.limit } : {}), ...(f.limitTest ? { test: f.limitTest } : {}) };
  const data = await loadDataset(f.data, { limits });
  note(describeDataset(data));
  const model: Model = f.model
    ? loadModel(f.model)
    : buildArchitecture(f.arch, {
        inputShape: data.shape,
        classes: data.classes,
        seed,
        standardize: meanStd(data.train.x),
      });
  const lr = f.lr;
  note(
    `federation: ${clients} clients, ${describePartition(partition)}, ${f.strategy}, ${rounds} rounds × ${f.localSteps ? `${f.localSteps} local steps` : `${f.localEpochs} local epoch(s)`}` +
      `${compress.kind !== 'none' ? `, ${f.compress} updates` : ''}${f.secureAgg ? ', secure aggregation' : ''}${dp ? `, DP clip ${dp.clip} noise ${dp.noiseMultiplier}` : ''}`,
  );
  const started = performance.now();
  const onRound = (r: RoundReport) => {
    const elapsed = (performance.now() - started) / 1000;
    const per = elapsed / r.round;
    note(
      `round ${r.round}/${rounds}: accuracy ${(r.accuracy * 100).toFixed(2)}% loss ${r.loss.toFixed(4)}, ${r.clients} clients` +
        `${r.failures.length ? ` (${r.failures.length} failed)` : ''}, uplink ${fmtBytes(r.uplink_bytes)}` +
        `${r.epsilon !== undefined ? `, ε ${r.epsilon.toFixed(2)}` : ''} — ${per.toFixed(1)} s/round, ETA ${fmtDuration(per * (rounds - r.round))}`,
    );
  };
  const result = await simulate({
    model,
    data,
    clients,
    partition,
    rounds,
    strategy: f.strategy,
    ...(f.fractionFit ? { fractionFit: f.fractionFit } : {}),
    ...(f.minFitClients ? { minFitClients: f.minFitClients } : {}),
    localEpochs: f.localEpochs,
    ...(f.localSteps ? { localSteps: f.localSteps } : {}),
    batchSize: f.batch,
    ...(lr !== undefined ? { lr } : {}),
    ...(f.lrDecay !== undefined ? { lrDecay: f.lrDecay } : {}),
    ...(f.lrMin !== undefined ? { lrMin: f.lrMin } : {}),
    ...(f.lrSchedule !== undefined ? { lrSchedule: f.lrSchedule } : {}),
    ...(f.freezeHead ? { freezeHead: true } : {}),
    ...(f.restrictedSoftmax !== undefined ? { restrictedSoftmax: f.restrictedSoftmax } : {}),
    ...(f.logitCalibration !== undefined ? { logitCalibration: f.logitCalibration } : {}),
    clientOptimizer:
      f.clientOptimizer === 'adam'
        ? { kind: 'adam', lr: lr ?? 1e-3 }
        : { kind: 'sgd', lr: lr ?? 0.05, momentum: f.momentum ?? 0.9 },
    compress,
    secureAgg: !!f.secureAgg,
    ...(dp ? { dp } : {}),
    malicious: f.malicious,
    dropPerRound: f.drop,
    seed,
    ...(f.threads ? { threads: f.threads } : {}),
    onRound,
  });
  const seconds = (performance.now() - started) / 1000;
  if (f.plot)
    writeFileAtomic(
      f.plot,
      accuracyChartSvg(`${result.strategy} · ${clients} clients · ${describePartition(partition)}`, [
        { label: `${result.strategy} (test accuracy)`, points: result.rounds },
      ]),
    );
  if (f.out) saveModel(result.model, f.out);
  const report = {
    final: result.final,
    rounds: result.rounds.map((r) => ({ ...r, failures: r.failures.length })),
    uplink_bytes: result.uplink_bytes,
    uplink_bytes_fp32: result.uplink_bytes_fp32,
    ...(result.epsilon !== undefined ? { epsilon: result.epsilon, delta: result.delta } : {}),
    strategy: result.strategy,
    partition: describePartition(partition),
    compression: result.compression,
    secure_aggregation: !!f.secureAgg,
    clients: result.clients,
    data: { name: data.name, source: data.source, train: data.train.count, test: data.test.count },
    seconds: Math.round(seconds * 10) / 10,
    plot: f.plot || null,
    out: f.out ?? null,
    peak_rss_mb: peakRssMb(),
  };
  emit(f, report, () =>
    [
      table(
        ['round', 'accuracy', 'loss', 'clients', 'failed', 'uplink'],
        result.rounds.map((r) => [
          r.round,
          `${(r.accuracy * 100).toFixed(2)}%`,
          r.loss.toFixed(4),
          r.clients,
          r.failures.length,
          fmtBytes(r.uplink_bytes),
        ]),
      ),
      `final accuracy ${(result.final.accuracy * 100).toFixed(2)}% after ${rounds} rounds in ${fmtDuration(seconds)}; uplink ${fmtBytes(result.uplink_bytes)} (${(result.uplink_bytes / Math.max(1, result.uplink_bytes_fp32)).toFixed(3)}× fp32)` +
        (result.epsilon !== undefined ? `; (ε, δ) = (${result.epsilon.toFixed(2)}, ${result.delta})` : ''),
      ...(f.plot ? [`accuracy chart: ${f.plot}`] : []),
      ...(f.out ? [`final model: ${f.out}`] : []),
    ].join('\n'),
  );
}
