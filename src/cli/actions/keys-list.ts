/** `verge keys list`: the control plane's signing key set. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type SigningKeySet } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, table } from '../output.ts';

/** One row per key, newest last. */
export function keySetTable(set: SigningKeySet): string {
  return table(
    ['id', 'state', 'created', 'endorsed by'],
    set.keys.map((k) => [
      k.key_id,
      k.revoked ? 'revoked' : k.key_id === set.active ? 'active' : 'trusted',
      new Date(k.created_at).toISOString(),
      k.endorsed_by?.key_id ?? '-',
    ]),
  );
}

export default async function list(opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  const set = await new CloudClient(resolveCloud(opts)).get<SigningKeySet>(HTTP_PATHS.signingKeys);
  emit(opts, set, () => keySetTable(set));
}
