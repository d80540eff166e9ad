/**
 * The drift trigger of `verge retrain <model> --with-collected --when-drifted` (docs/edge-loop.md,
 * "Retraining on drift"): the policy that decides whether a retraining run is due, and the canary
 * rollout of what it publishes. Meant to run from cron or a systemd timer: when nothing is due it
 * says why and exits 0 without training.
 *
 * Due when all hold:
 *   - the model's drift score over the window (the version most inputs came from, against its
 *     training reference) is above the threshold;
 *   - no version retrained from collected items (optimization `retrain:…`) was published within
 *     the cooldown;
 *   - the cloud holds at least `minLabelled` labelled collected items of the model.
 */
import type { CloudClient } from '../cloud/index.ts';
import { VergeError } from '../errors.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  type CreateDeploymentRequest,
  type Deployment,
  type DeploymentsResponse,
  type DriftScore,
  type EdgeLoopPolicy,
  type ModelsResponse,
} from '../protocol/index.ts';

export interface DriftTrigger {
  threshold: number;
  windowMs: number;
  cooldownMs: number;
  minLabelled: number;
}

export type TriggerDecision =
  | { due: true; version: string; drift: DriftScore; labelled: number }
  | { due: false; reason: string; drift: DriftScore | null; labelled: number | null };

export async function retrainDue(
  client: CloudClient,
  name: string,
  t: DriftTrigger,
  now = Date.now(),
): Promise<TriggerDecision> {
  let drift: DriftScore;
  try {
    drift = await client.get<DriftScore>(
      `${EDGE_LOOP_PATHS.drift}?model=${encodeURIComponent(name)}&since=${now - t.windowMs}`,
    );
  } catch (e) {
    if ((e as { code?: string }).code !== 'E_NOT_FOUND') throw e;
    return { due: false, reason: `no drift score: ${(e as Error).message}`, drift: null, labelled: null };
  }
  const at = `${name}@${drift.version}`;
  if (drift.score === null || drift.score <= t.threshold)
    return {
      due: false,
      reason: `${at} is not drifted: score ${drift.score === null ? 'none' : drift.score.toFixed(3)} <= ${t.threshold} over ${drift.samples} inputs`,
      drift,
      labelled: null,
    };
  const versions = (await client.get<ModelsResponse>(HTTP_PATHS.model(name))).models[0]?.versions ?? [];
  const recent = versions
    .filter((v) => v.optimization?.startsWith('retrain:') && now - v.created_at < t.cooldownMs)
    .sort((a, b) => b.created_at - a.created_at)[0];
  if (recent)
    return {
      due: false,
      reason: `cooldown: ${name}@${recent.version} was retrained ${Math.round((now - recent.created_at) / 60_000)} min ago (cooldown ${Math.round(t.cooldownMs / 60_000)} min)`,
      drift,
      labelled: null,
    };
  const { total } = await client.get<{ total: number }>(
    `${EDGE_LOOP_PATHS.items}?model=${encodeURIComponent(name)}&labelled=true&limit=1`,
  );
  if (total < t.minLabelled)
    return {
      due: false,
      reason: `${at} drifted (score ${drift.score.toFixed(3)}) but only ${total} collected items are labelled, ${t.minLabelled} needed (verge label list ${name} --unlabelled --hard)`,
      drift,
      labelled: total,
    };
  return { due: true, version: drift.version, drift, labelled: total };
}

/**
 * Roll `name@next` out as a canary to the target of the newest deployment of `name@from` that
 * succeeded or is rolling out, with that deployment's edge-loop policy (so collection and drift
 * go on).
 */
export async function canaryAfterRetrain(
  client: CloudClient,
  name: string,
  from: string,
  next: string,
  percent: number,
): Promise<Deployment> {
  const active = (
    await client.get<DeploymentsResponse>(`${HTTP_PATHS.deployments}?model=${encodeURIComponent(name)}`)
  ).deployments
    .filter((d) => d.version === from && ['succeeded', 'canary', 'rolling'].includes(d.state))
    .sort((a, b) => b.created_at - a.created_at)[0];
  if (!active)
    throw new VergeError(
      'E_NOT_FOUND',
      `${name}@${next} is published, but no deployment of ${name}@${from} (succeeded or rolling out) gives a target to roll it out to: verge deploy ${name}@${next} --strategy canary:${percent} …`,
    );
  let policy: EdgeLoopPolicy | null = null;
  try {
    policy = await client.get<EdgeLoopPolicy>(EDGE_LOOP_PATHS.policy(active.id));
  } catch (e) {
    if ((e as { code?: string }).code !== 'E_NOT_FOUND') throw e;
  }
  const dep = await client.post<Deployment>(HTTP_PATHS.deployments, {
    model: name,
    version: next,
    target: active.target as CreateDeploymentRequest['target'],
    strategy: 'canary',
    canary_percent: percent,
  } satisfies CreateDeploymentRequest);
  if (policy) await client.request('PUT', EDGE_LOOP_PATHS.policy(dep.id), policy);
  return dep;
}
