/** `verge devices`: enrolled devices, their status and what they serve. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type DevicesResponse } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, table } from '../output.ts';

function ago(ms: number | null): string {
  if (ms === null) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

export default async function devices(opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  const res = await new CloudClient(resolveCloud(opts)).get<DevicesResponse>(HTTP_PATHS.devices);
  emit(opts, res, () =>
    res.devices.length === 0
      ? 'no devices enrolled (create a token with `verge enroll-token`, then run `verge agent`)'
      : table(
          ['name', 'status', 'model', 'version', 'variant', 'last seen', 'tags'],
          res.devices.map((d) => [
            d.name,
            d.status,
            d.model ?? '-',
            d.version ?? '-',
            d.variant ?? '-',
            ago(d.last_seen),
            Object.entries(d.tags)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          ]),
        ),
  );
}
