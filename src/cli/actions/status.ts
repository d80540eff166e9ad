import { CloudClient, resolveCloud, summarize } from '../../cloud/client.ts';
import {
  HTTP_PATHS,
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
    ].join('\n'),
  );
}
