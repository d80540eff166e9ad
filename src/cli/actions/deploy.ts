/** `verge deploy <name@version> …`: create a deployment (or promote a canary), optionally wait for it. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { VergeError } from '../../errors.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  SetEdgeLoopPolicyRequest,
  type CreateDeploymentRequest,
  type Deployment,
  type DeploymentsResponse,
  type Precision,
} from '../../protocol/index.ts';
import type { RolloutStrategy } from '../commands/deploy.ts';
import { waitAndReport } from '../deployment-report.ts';
import type { CloudCliOptions } from '../options.ts';
import { note } from '../output.ts';

interface DeployOptions extends CloudCliOptions {
  devices?: string[];
  tag?: Record<string, string>;
  profileClass?: string;
  arch?: string;
  precision?: Precision;
  strategy: RolloutStrategy;
  maxErrorRate: number;
  maxP95Ms?: number;
  minInferences: number;
  gateTimeout: number;
  autoPromote: boolean;
  promote?: boolean;
  wait?: boolean;
  waitTimeout?: number;
  collect?: string;
  collectQuotaMb?: number;
  codecs?: string[];
  upload?: boolean;
  offloadTo?: string;
  offloadBelow?: number;
  offloadMarginBelow?: number;
  offloadDeadlineMs?: number;
  json?: boolean;
}

/** Default offload threshold of `--offload-to` without `--offload-below`. */
const DEFAULT_OFFLOAD_BELOW = 0.5;

/** The edge-loop policy the flags ask for (validated before anything is created), or null. */
function loopPolicy(o: DeployOptions): Record<string, unknown> | null {
  const collecting =
    o.collect !== undefined || o.collectQuotaMb !== undefined || o.codecs !== undefined || o.upload === false;
  if (!collecting && o.offloadTo === undefined) {
    if (o.offloadBelow !== undefined || o.offloadMarginBelow !== undefined || o.offloadDeadlineMs !== undefined)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        '--offload-below/--offload-margin-below/--offload-deadline-ms need --offload-to <model>',
      );
    return null;
  }
  const collect: Record<string, unknown> = {};
  const hard: Record<string, number> = {};
  for (const rule of (o.collect ?? '').split(',').filter(Boolean)) {
    const m = /^(hard|margin|entropy|rate|cap):([0-9.]+)$/.exec(rule.trim());
    if (!m || !Number.isFinite(Number(m[2])))
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `--collect rule '${rule}': use hard:P, margin:M, entropy:E, rate:F or cap:N`,
      );
    const v = Number(m[2]);
    if (m[1] === 'hard') hard.top1_below = v;
    else if (m[1] === 'margin') hard.margin_below = v;
    else if (m[1] === 'entropy') hard.entropy_above = v;
    else if (m[1] === 'rate') collect.sample_rate = v;
    else collect.per_class_cap = v;
  }
  collect.hard = hard;
  if (o.collectQuotaMb !== undefined) collect.quota_mb = o.collectQuotaMb;
  if (o.codecs !== undefined) collect.codecs = o.codecs;
  if (o.upload === false) collect.upload = false;
  const body = {
    collect: collecting ? collect : null,
    offload: o.offloadTo
      ? {
          model: o.offloadTo,
          // with only a margin rule, top-1 does not offload by itself
          below: o.offloadBelow ?? (o.offloadMarginBelow !== undefined ? 0 : DEFAULT_OFFLOAD_BELOW),
          ...(o.offloadMarginBelow !== undefined ? { margin_below: o.offloadMarginBelow } : {}),
          ...(o.offloadDeadlineMs !== undefined ? { deadline_ms: Math.round(o.offloadDeadlineMs) } : {}),
        }
      : null,
  };
  const r = SetEdgeLoopPolicyRequest.safeParse(body);
  if (!r.success)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `edge-loop flags: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return body;
}

function parseRef(ref: string): { name: string; version: string } {
  const at = ref.lastIndexOf('@');
  if (at <= 0 || at === ref.length - 1)
    throw new VergeError('E_BAD_ARGUMENT', `expected <name>@<version>, got '${ref}'`);
  return { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

function targetOf(opts: DeployOptions): CreateDeploymentRequest['target'] {
  const target: CreateDeploymentRequest['target'] = {};
  if (opts.devices?.length) target.devices = opts.devices;
  if (opts.tag) target.tags = opts.tag;
  if (opts.profileClass || opts.arch || opts.precision)
    target.profile = { class: opts.profileClass, arch: opts.arch, precision: opts.precision };
  if (!target.devices && !target.tags && !target.profile)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      'choose targets: --devices a,b, --tag k=v, or --profile-class/--arch/--precision',
    );
  return target;
}

async function promote(client: CloudClient, name: string, version: string): Promise<Deployment> {
  const active = (
    await client.get<DeploymentsResponse>(`${HTTP_PATHS.deployments}?model=${encodeURIComponent(name)}&active=true`)
  ).deployments.find((d) => d.version === version && d.state === 'canary');
  if (!active) throw new VergeError('E_NOT_FOUND', `no canary deployment of ${name}@${version} to promote`);
  return client.post<Deployment>(HTTP_PATHS.promote(active.id));
}

export default async function deploy(ref: string, opts: DeployOptions): Promise<void> {
  const { name, version } = parseRef(ref);
  const client = new CloudClient(resolveCloud(opts));
  if (opts.promote) return waitAndReport(client, await promote(client, name, version), opts);
  const policy = loopPolicy(opts);
  const dep = await client.post<Deployment>(HTTP_PATHS.deployments, {
    model: name,
    version,
    target: targetOf(opts),
    ...opts.strategy,
    health: {
      max_error_rate: opts.maxErrorRate,
      max_p95_ms: opts.maxP95Ms ?? null,
      min_inferences: opts.minInferences,
      timeout_s: opts.gateTimeout,
    },
    auto_promote: opts.autoPromote !== false,
  } satisfies CreateDeploymentRequest);
  note(
    `deployment ${dep.id}: ${dep.devices.length} device(s), ${dep.devices.filter((d) => d.released).length} released now`,
  );
  if (policy) {
    await client.request('PUT', EDGE_LOOP_PATHS.policy(dep.id), policy);
    note(`edge-loop policy set on ${dep.id}`);
  }
  await waitAndReport(client, dep, opts);
}
