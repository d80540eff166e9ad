/**
 * Printing a deployment's outcome, shared by `verge deploy` and `verge rollback`: the report, and
 * the exit code (3 when a rollout ended failed or rolled back, unless a rollback was asked for).
 */
import { CloudClient, summarize, waitForDeployment } from '../cloud/index.ts';
import { FAILED_DEPLOYMENT_STATES, type Deployment } from '../protocol/index.ts';
import { emit, note } from './output.ts';

/** Exit code of a rollout that did not reach its devices (failed or rolled back). */
export const ROLLOUT_FAILED_EXIT = 3;
/** Default `--wait` limit: a canary's default health-gate timeout (300 s) plus a margin. */
export const DEFAULT_WAIT_S = 600;

export interface ReportOptions {
  json?: boolean;
  /** The operator asked for a rollback: `rolled_back` is the success state, not a failure. */
  rollback?: boolean;
}

function human(d: Deployment): string {
  const lines = [`deployment ${d.id}: ${d.model}@${d.version} ${d.state}${d.reason ? ` — ${d.reason}` : ''}`];
  for (const x of d.devices)
    lines.push(
      `  ${x.name.padEnd(20)} ${x.canary ? 'canary ' : '       '}${x.state.padEnd(12)} ${x.variant ?? ''}${x.error ? `  ${x.error.code}: ${x.error.message}` : ''}`,
    );
  if (d.state === 'canary' && d.gate_passed_at !== null)
    lines.push(`health gate passed; promote with: verge deploy ${d.model}@${d.version} --promote`);
  return lines.join('\n');
}

/** Print the outcome; a rollout that ended rolled back or failed (and was not a rollback) exits non-zero. */
export function reportDeployment(opts: ReportOptions, d: Deployment): void {
  emit(opts, d, () => human(d));
  const failed = (FAILED_DEPLOYMENT_STATES as readonly string[]).includes(d.state);
  if (failed && !(opts.rollback && d.state === 'rolled_back')) {
    note(`error: E_DEPLOYMENT: ${d.model}@${d.version} ${d.state}: ${d.reason ?? ''}`);
    process.exitCode = ROLLOUT_FAILED_EXIT;
  }
}

/** With `wait`, poll until the deployment is final (progress on stderr), then report it. */
export async function waitAndReport(
  client: CloudClient,
  d: Deployment,
  opts: ReportOptions & { wait?: boolean; waitTimeout?: number },
): Promise<void> {
  if (!opts.wait) return reportDeployment(opts, d);
  let last = '';
  const final = await waitForDeployment(client, d.id, {
    timeoutMs: (opts.waitTimeout ?? DEFAULT_WAIT_S) * 1000,
    onProgress: (x) => {
      const line = `  ${x.state}: ${summarize(x)}`;
      if (line !== last) note(line);
      last = line;
    },
  });
  reportDeployment(opts, final);
}
