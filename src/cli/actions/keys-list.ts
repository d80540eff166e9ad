/** `verge keys list`: the control plane's signing key set. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type SigningKeySet } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { keySetTable } from '../key-set-table.ts';
import { emit } from '../output.ts';

export default async function list(opts: CloudCliOptions & { json?: boolean }): Promise<void> {
  const set = await new CloudClient(resolveCloud(opts)).get<SigningKeySet>(HTTP_PATHS.signingKeys);
  emit(opts, set, () => keySetTable(set));
}
