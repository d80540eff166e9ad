import type { Command } from 'commander';
import { CloudClient, resolveCloud, summarize, waitForDeployment } from '../../cloud/client.ts';
import { VergeError } from '../../errors.ts';
import {
  HTTP_PATHS,
  PRECISIONS,
  type CreateDeploymentRequest,
  type Deployment,
  type DeploymentsResponse,
} from '../../protocol/index.ts';
import { emit, note, table } from '../output.ts';
import { collect, parseKeyValues } from './enroll-token.ts';

/** Default `--wait` limit: a canary's default health-gate timeout (300 s) plus a margin. */
const DEFAULT_WAIT_S = 600;

function parseRef(ref: string): { name: string; version: string } {
  const at = ref.lastIndexOf('@');
  if (at <= 0 || at === ref.length - 1)
    throw new VergeError('E_BAD_ARGUMENT', `expected <name>@<version>, got '${ref}'`);
  return { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

function parseStrategy(s: string): { strategy: 'all' | 'canary'; canary_percent: number | null } {
  if (s === 'all') return { strategy: 'all', canary_percent: null };
  const m = /^canary:(\d{1,2})$/.exec(s);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 99) return { strategy: 'canary', canary_percent: Number(m[1]) };
  throw new VergeError('E_BAD_ARGUMENT', `--strategy must be 'all' or 'canary:PCT' with PCT 1-99, got '${s}'`);
}

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new VergeError('E_BAD_ARGUMENT', `${flag} must be a non-negative number, got '${v}'`);
  return n;
}

/** Print the outcome; a rollout that ended rolled back or failed exits non-zero. */
export function finish(opts: { json?: boolean }, d: Deployment): void {
  emit(opts, d, () => {
    const lines = [`deployment ${d.id}: ${d.model}@${d.version} ${d.state}${d.reason ? ` — ${d.reason}` : ''}`];
    for (const x of d.devices)
      lines.push(
        `  ${x.name.padEnd(20)} ${x.canary ? 'canary ' : '       '}${x.state.padEnd(12)} ${x.variant ?? ''}${x.error ? `  ${x.error.code}: ${x.error.message}` : ''}`,
      );
    if (d.state === 'canary' && d.gate_passed_at !== null)
      lines.push(`health gate passed; promote with: verge deploy ${d.model}@${d.version} --promote`);
    return lines.join('\n');
  });
  if (d.state === 'failed' || d.state === 'rolled_back') {
    note(`error: E_DEPLOYMENT: ${d.model}@${d.version} ${d.state}: ${d.reason ?? ''}`);
    process.exitCode = 3;
  }
}

export async function waitAndFinish(
  client: CloudClient,
  d: Deployment,
  opts: { json?: boolean; wait?: boolean; waitTimeout?: string },
): Promise<void> {
  if (!opts.wait) return finish(opts, d);
  let last = '';
  const final = await waitForDeployment(client, d.id, {
    timeoutMs: (num(opts.waitTimeout, '--wait-timeout') ?? DEFAULT_WAIT_S) * 1000,
    onProgress: (x) => {
      const line = `  ${x.state}: ${summarize(x)}`;
      if (line !== last) note(line);
      last = line;
    },
  });
  finish(opts, final);
}

export function register(program: Command): void {
  program
    .command('deployments')
    .description('deployment history, newest first (state, strategy, per-device summary)')
    .argument('[model]', 'only deployments of this model')
    .option('--active', 'only deployments in progress (canary or rolling)')
    .option('--cloud <url>', 'control plane URL (or VERGE_CLOUD)')
    .option('--api-key <key>', 'API key (or VERGE_API_KEY)')
    .option('--data-dir <dir>', "read the admin key from a local cloud's data dir")
    .option('--json', 'print {deployments:[…]} with per-device states')
    .action(async (model: string | undefined, opts) => {
      const q = new URLSearchParams();
      if (model) q.set('model', model);
      if (opts.active) q.set('active', 'true');
      const res = await new CloudClient(resolveCloud(opts)).get<DeploymentsResponse>(`${HTTP_PATHS.deployments}?${q}`);
      emit(opts, res, () =>
        res.deployments.length === 0
          ? 'no deployments'
          : table(
              ['id', 'model', 'version', 'strategy', 'state', 'devices', 'created', 'reason'],
              res.deployments.map((d) => [
                d.id,
                d.model,
                d.version,
                d.strategy === 'canary' ? `canary:${d.canary_percent}` : 'all',
                d.state,
                summarize(d),
                new Date(d.created_at).toISOString().slice(0, 19).replace('T', ' '),
                d.reason ?? '',
              ]),
            ),
      );
    });

  program
    .command('deploy')
    .description(
      'deploy a published model version to devices (all at once, or canary with a health gate and automatic rollback)',
    )
    .argument('<name@version>', 'model and version, e.g. classifier@1.2.0')
    .option('--devices <a,b>', 'target devices by name or id (comma-separated)')
    .option('--tag <k=v>', 'target devices with this tag (repeatable; all must match)', collect, [])
    .option('--profile-class <class>', 'target devices of this profile class')
    .option('--arch <arch>', 'target devices of this CPU architecture')
    .option('--precision <p>', `target devices supporting this precision (${PRECISIONS.join('|')})`)
    .option('--strategy <s>', "'all' or 'canary:PCT' (PCT% of targets first, then promote)", 'all')
    .option('--max-error-rate <x>', 'health gate: max error rate of canary inferences', '0.05')
    .option('--max-p95-ms <ms>', 'health gate: max p95 latency of canary inferences')
    .option('--min-inferences <n>', 'health gate: canary inferences needed before it can pass', '0')
    .option('--gate-timeout <s>', 'health gate: roll back if not passed within this many seconds', '300')
    .option('--no-auto-promote', 'after the canary passes, wait for `--promote` instead of promoting')
    .option('--promote', 'promote the active canary deployment of <name@version> to all its targets')
    .option('--wait', 'wait until the rollout succeeds, fails, rolls back, or waits for promote')
    .option('--wait-timeout <s>', `give up waiting after this many seconds (default ${DEFAULT_WAIT_S})`)
    .option('--cloud <url>', 'control plane URL (or VERGE_CLOUD)')
    .option('--api-key <key>', 'admin API key (or VERGE_API_KEY)')
    .option('--data-dir <dir>', "read the admin key from a local cloud's data dir")
    .option('--json', 'print the deployment as one JSON object')
    .action(async (ref: string, opts) => {
      const { name, version } = parseRef(ref);
      const client = new CloudClient(resolveCloud(opts));
      if (opts.promote) {
        const active = (
          await client.get<DeploymentsResponse>(
            `${HTTP_PATHS.deployments}?model=${encodeURIComponent(name)}&active=true`,
          )
        ).deployments.find((d) => d.version === version && d.state === 'canary');
        if (!active) throw new VergeError('E_NOT_FOUND', `no canary deployment of ${name}@${version} to promote`);
        return waitAndFinish(client, await client.post<Deployment>(HTTP_PATHS.promote(active.id)), opts);
      }
      const target: CreateDeploymentRequest['target'] = {};
      if (opts.devices)
        target.devices = String(opts.devices)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      if (opts.tag.length) target.tags = parseKeyValues(opts.tag, '--tag');
      if (opts.profileClass || opts.arch || opts.precision) {
        if (opts.precision && !(PRECISIONS as readonly string[]).includes(opts.precision))
          throw new VergeError('E_BAD_ARGUMENT', `--precision must be one of ${PRECISIONS.join(', ')}`);
        target.profile = { class: opts.profileClass, arch: opts.arch, precision: opts.precision };
      }
      if (!target.devices && !target.tags && !target.profile)
        throw new VergeError(
          'E_BAD_ARGUMENT',
          'choose targets: --devices a,b, --tag k=v, or --profile-class/--arch/--precision',
        );
      const maxErrorRate = num(opts.maxErrorRate, '--max-error-rate')!;
      if (maxErrorRate > 1) throw new VergeError('E_BAD_ARGUMENT', '--max-error-rate must be between 0 and 1');
      const dep = await client.post<Deployment>(HTTP_PATHS.deployments, {
        model: name,
        version,
        target,
        ...parseStrategy(opts.strategy),
        health: {
          max_error_rate: maxErrorRate,
          max_p95_ms: num(opts.maxP95Ms, '--max-p95-ms') ?? null,
          min_inferences: Math.round(num(opts.minInferences, '--min-inferences')!),
          timeout_s: num(opts.gateTimeout, '--gate-timeout')!,
        },
        auto_promote: opts.autoPromote !== false,
      } satisfies CreateDeploymentRequest);
      note(
        `deployment ${dep.id}: ${dep.devices.length} device(s), ${dep.devices.filter((d) => d.released).length} released now`,
      );
      await waitAndFinish(client, dep, opts);
    });
}
