import type { Command } from 'commander';
import { CloudClient, resolveCloud } from '../../cloud/client.ts';
import { HTTP_PATHS, type Device, type DevicesResponse } from '../../protocol/index.ts';
import { emit, table } from '../output.ts';

function ago(ms: number | null): string {
  if (ms === null) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

const withCloud = (c: Command) =>
  c
    .option('--cloud <url>', 'control plane URL (or VERGE_CLOUD)')
    .option('--api-key <key>', 'API key (or VERGE_API_KEY)')
    .option('--data-dir <dir>', "read the admin key from a local cloud's data dir");

export function register(program: Command): void {
  const devices = withCloud(
    program
      .command('devices')
      .description('list enrolled devices: status, what they serve, last seen (subcommand: revoke)')
      .option(
        '--json',
        'print {devices:[{name, status, model, version, variant, last_seen, …}]} (last_seen in epoch ms)',
      ),
  ).action(async (opts) => {
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
  });

  withCloud(
    devices
      .command('revoke')
      .description('revoke a device: its credentials stop working at the broker and over HTTP')
      .argument('<device>', 'device name or id')
      .option('--json', 'print the device as one JSON object'),
  ).action(async (device: string, opts) => {
    const d = await new CloudClient(resolveCloud(opts)).post<Device>(HTTP_PATHS.revokeDevice(device));
    emit(opts, d, () => `revoked ${d.name} (${d.id})`);
  });
}
