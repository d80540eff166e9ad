/** The signing key set as a table, shared by `verge keys list|rotate|revoke` (actions never import each other). */
import type { SigningKeySet } from '../protocol/index.ts';
import { table } from './output.ts';

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
