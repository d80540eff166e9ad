import { CloudClient, resolveCloud, summarize } from '../../cloud/index.ts';
import {
  EDGE_LOOP_PATHS,
  HTTP_PATHS,
  type DriftOverview,
  type DeploymentsResponse,
  type StatusResponse,
  type TelemetrySummaryResponse,
} from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';

/** `verge status`: control-plane overview. */
export default async function status(opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  const conn = resolveCloud(opts);
  const client = new CloudClient(conn);
  const status = await client.get<StatusResponse>(HTTP_PATHS.status);
  const active = (await client.get<DeploymentsResponse>(`${HTTP_PATHS.deployments}?active=true`)).deployments;
  const recent = await client.get<TelemetrySummaryResponse>(HTTP_PATHS.telemetry);
  // edge-loop drift of the last hour (a cloud without the route: none shown)
  const drift = await client.get<DriftOverview>(EDGE_LOOP_PATHS.driftModels).catch(() => null);
  const out = {
    cloud: conn.url,
    ...status,
    active_deployments: active.map((d) => ({
      id: d.id,
      model: d.model,
      version: d.version,
      state: d.state,
      strategy: d.strategy,
      devices: summarize(d),
      reason: d.reason,
    })),
    last_hour: recent.models,
    drift: drift ? { models: drift.models.map(({ by_device: _d, ...m }) => m), unscored: drift.unscored } : null,
  };
  emit(opts, out, () =>
    [
      `cloud ${conn.url} (protocol v${status.protocol_version}; broker ${status.broker.kind} ${status.broker.url}; db ${status.db.kind})`,
      `devices: ${status.devices.total} (${status.devices.online} online, ${status.devices.offline} offline, ${status.devices.revoked} revoked)`,
      `models: ${status.models}; deployments: ${status.deployments.total} (${status.deployments.active} active)`,
      `telemetry: ${status.telemetry.messages} records, ${status.telemetry.inferences} inferences, ${status.telemetry.errors} errors`,
      ...out.active_deployments.map(
        (d) =>
          `  ${d.id} ${d.model}@${d.version} ${d.state} (${d.strategy}): ${d.devices}${d.reason ? ` — ${d.reason}` : ''}`,
      ),
      ...(recent.models.length ? ['last hour:'] : []),
      ...recent.models.map(
        (m) =>
          `  ${m.name}@${m.version} ${m.variant}: ${m.inferences} inferences on ${m.devices} device(s), error rate ${m.error_rate.toFixed(3)}, p50 ≤ ${m.p50_ms ?? '-'} ms, p95 ≤ ${m.p95_ms ?? '-'} ms`,
      ),
      ...(drift && drift.models.length + drift.unscored.length
        ? ['input drift, last hour (PSI; > 0.25 = drifted):']
        : []),
      ...(drift?.models ?? []).map((m) => {
        const drifted = m.by_device?.filter((d) => d.drifted).length ?? 0;
        const f = (v: number | null) => (v === null ? '-' : v.toFixed(3));
        return `  ${m.model}@${m.version}: ${f(m.score)}${m.drifted ? ' DRIFTED' : ''} (mean ${f(m.psi.mean)}, std ${f(m.psi.std)}, class mix ${f(m.psi.class_mix)}) over ${m.samples} inputs from ${m.devices} device(s), ${drifted} drifted`;
      }),
      ...(drift?.unscored ?? []).map((u) => `  ${u.model}@${u.version}: ${u.samples} inputs, no score: ${u.reason}`),
    ].join('\n'),
  );
}
