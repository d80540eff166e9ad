import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { PRECISIONS } from '../../protocol/precisions.ts';
import { action } from '../command.ts';
import { choice, cloudOptions, keyValue, nonNegativeInt, number, wordList } from '../options.ts';

export interface RolloutStrategy {
  strategy: 'all' | 'canary';
  canary_percent: number | null;
}

/** argParser of --strategy: `all` or `canary:PCT`. */
export function parseStrategy(s: string): RolloutStrategy {
  if (s === 'all') return { strategy: 'all', canary_percent: null };
  const m = /^canary:(\d{1,2})$/.exec(s);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 99) return { strategy: 'canary', canary_percent: Number(m[1]) };
  throw new VergeError('E_BAD_ARGUMENT', `--strategy must be 'all' or 'canary:PCT' with PCT 1-99, got '${s}'`);
}

export function register(program: Command): void {
  cloudOptions(
    program
      .command('deploy')
      .description(
        'deploy a published model version to devices (all at once, or canary with a health gate and automatic rollback)',
      )
      .argument('<name@version>', 'model and version, e.g. classifier@1.2.0')
      .option('--devices <a,b>', 'target devices by name or id (comma-separated)', wordList)
      .option('--tag <k=v>', 'target devices with this tag (repeatable; all must match)', keyValue('--tag'))
      .option('--profile-class <class>', 'target devices of this profile class')
      .option('--arch <arch>', 'target devices of this CPU architecture')
      .addOption(choice('--precision <p>', 'target devices supporting this precision', PRECISIONS))
      .option(
        '--strategy <s>',
        "'all' or 'canary:PCT' (PCT% of targets first, then promote)",
        parseStrategy,
        parseStrategy('all'),
      )
      .option(
        '--max-error-rate <x>',
        'health gate: max error rate of canary inferences',
        number('--max-error-rate', { min: 0, max: 1 }),
        0.05,
      )
      .option(
        '--max-p95-ms <ms>',
        'health gate: max p95 latency of canary inferences',
        number('--max-p95-ms', { min: 0 }),
      )
      .option(
        '--min-inferences <n>',
        'health gate: canary inferences needed before it can pass',
        nonNegativeInt('--min-inferences'),
        0,
      )
      .option(
        '--gate-timeout <s>',
        'health gate: roll back if not passed within this many seconds',
        number('--gate-timeout', { min: 0 }),
        300,
      )
      .option('--no-auto-promote', 'after the canary passes, wait for `--promote` instead of promoting')
      .option('--promote', 'promote the active canary deployment of <name@version> to all its targets')
      .option('--wait', 'wait until the rollout succeeds, fails, rolls back, or waits for promote')
      .option(
        '--wait-timeout <s>',
        'give up waiting after this many seconds (default 600)',
        number('--wait-timeout', { min: 0 }),
      )
      .option(
        '--collect <rules>',
        'edge loop: collect inputs on the devices, comma-separated hard:P (top-1 below P), margin:M, entropy:E, rate:F (uniform sample), cap:N (per class)',
      )
      .option(
        '--collect-quota-mb <n>',
        'edge loop: device disk for collected items (default 64)',
        number('--collect-quota-mb', { above: 0 }),
      )
      .option(
        '--codecs <a,b>',
        'edge loop: uplink codecs in order of preference (default quantize-delta:8,lossless)',
        wordList,
      )
      .option('--no-upload', 'edge loop: keep collected items on the devices (e.g. for federated learning)')
      .option('--offload-to <name[@version]>', 'joint inference: the cloud-hosted model uncertain requests go to')
      .option(
        '--offload-below <p>',
        'joint inference: offload when the local top-1 probability is below this (default 0.5)',
        number('--offload-below', { min: 0, max: 1 }),
      )
      .option(
        '--offload-margin-below <m>',
        'joint inference: offload when the top-1 minus runner-up probability is below this (alone, or with --offload-below)',
        number('--offload-margin-below', { min: 0, max: 1 }),
      )
      .option(
        '--offload-deadline-ms <ms>',
        'joint inference: answer locally when the cloud is slower (default 500)',
        number('--offload-deadline-ms', { above: 0 }),
      )
      .option('--json', 'print the deployment as one JSON object'),
  ).action(action(() => import('../actions/deploy.ts')));
}
