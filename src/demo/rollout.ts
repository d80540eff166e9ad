/** The quickstart's rollout: a canary on one device of three, gated on its real inference health, then promoted. */
import type { Dataset } from '../data/browser.ts';
import type { EdgeAgent } from '../edge/index.ts';
import { HTTP_PATHS, type Deployment } from '../protocol/index.ts';
import { QUICKSTART_TAGS, STEP_TIMEOUT_MS, type QuickstartOperator } from './operator.ts';
import { round, type DemoReporter } from './reporter.ts';
import { predictImage, servedInput } from './traffic.ts';

/** One device of three is the canary (ceil(3 × 33%) = 1). */
const CANARY_PERCENT = 33;
/** Requests the canary must serve before its health gate can pass. */
const CANARY_MIN_INFERENCES = 50;
/** Requests sent to the canary during the gate (a few more than the minimum). */
const CANARY_REQUESTS = 64;
/** A canary may fail no request at all in the quickstart. */
const CANARY_MAX_ERROR_RATE = 0;

export interface RolloutResult {
  deployment: Deployment;
  canary: string[];
  gate: string;
  seconds: number;
}

async function canaryTraffic(agents: EdgeAgent[], model: string, data: Dataset): Promise<void> {
  for (const a of agents) {
    const input = await servedInput(a, model);
    for (let i = 0; i < CANARY_REQUESTS; i++) await predictImage(a, model, input, data, i % data.test.count);
    a.flushTelemetry();
  }
}

/** A rollout as the quickstart's summary reports it. */
export interface RolloutSummary {
  id: string;
  strategy: string;
  canary: string[];
  gate: string | null;
  state: string;
  seconds: number;
}

export function rolloutSummary(r: RolloutResult): RolloutSummary {
  return {
    id: r.deployment.id,
    strategy: `canary:${r.deployment.canary_percent}`,
    canary: r.canary,
    gate: r.gate,
    state: r.deployment.state,
    seconds: round(r.seconds, 2),
  };
}

export async function canaryRollout(
  op: QuickstartOperator,
  agents: EdgeAgent[],
  data: Dataset,
  ref: { model: string; version: string },
  report: DemoReporter,
  announce: (text: string) => void,
): Promise<RolloutResult> {
  announce(
    `deploying with a canary (health gate: ≥ ${CANARY_MIN_INFERENCES} inferences, error rate ≤ ${CANARY_MAX_ERROR_RATE}), then promoting`,
  );
  const t0 = performance.now();
  let dep = await op.client.post<Deployment>(HTTP_PATHS.deployments, {
    model: ref.model,
    version: ref.version,
    target: { tags: QUICKSTART_TAGS },
    strategy: 'canary',
    canary_percent: CANARY_PERCENT,
    health: {
      max_error_rate: CANARY_MAX_ERROR_RATE,
      min_inferences: CANARY_MIN_INFERENCES,
      timeout_s: STEP_TIMEOUT_MS / 1000,
    },
    auto_promote: false,
  });
  const canary = dep.devices.filter((d) => d.canary).map((d) => d.name);
  report.note(`  deployment ${dep.id}: canary ${canary.join(', ')}; others wait`);
  const canaryLoaded = (d: Deployment) => d.devices.filter((x) => x.canary).every((x) => x.state === 'loaded');
  dep = await op.waitFor(dep.id, canaryLoaded, STEP_TIMEOUT_MS);
  const loaded = dep.devices.filter((x) => x.canary).map((x) => `${x.name}: ${x.variant}`);
  report.note(`  canary loaded (${loaded.join(', ')}); sending ${CANARY_REQUESTS} images through it`);
  await canaryTraffic(
    agents.filter((a) => canary.includes(a.name)),
    ref.model,
    data,
  );
  dep = await op.waitFor(dep.id, (d) => d.gate_passed_at !== null, STEP_TIMEOUT_MS);
  const gate = dep.reason ?? 'health gate passed';
  report.note(`  ${gate}`);
  dep = await op.client.post<Deployment>(HTTP_PATHS.promote(dep.id));
  report.note('  promoted: releasing to every device');
  dep = await op.waitFor(dep.id, (d) => d.state === 'succeeded', STEP_TIMEOUT_MS);
  const seconds = (performance.now() - t0) / 1000;
  report.note(
    `  rollout ${dep.state} in ${seconds.toFixed(1)} s: ${dep.devices.map((x) => `${x.name}=${x.variant}`).join(', ')}`,
  );
  return { deployment: dep, canary, gate, seconds };
}
