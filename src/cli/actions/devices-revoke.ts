/** `verge devices revoke <device>`: its credentials stop working at the broker and over HTTP. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type Device } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';

export default async function revoke(device: string, opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  const d = await new CloudClient(resolveCloud(opts)).post<Device>(HTTP_PATHS.revokeDevice(device));
  emit(opts, d, () => `revoked ${d.name} (${d.id})`);
}
