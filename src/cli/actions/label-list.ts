/** `verge label list <model>`: the model's collected items in the cloud (GET /v1/edge-loop/items). */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { VergeError } from '../../errors.ts';
import { EDGE_LOOP_PATHS, type CollectedItem } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, table } from '../output.ts';

/** Items one listing shows at most (a terminal page, not an export: `verge data pull` is that). */
const MAX_LISTED = 1000;

interface ListFlags extends CloudCliOptions {
  unlabelled?: boolean;
  hard?: boolean;
  reason?: string;
  device?: string;
  limit: number;
  offset: number;
  json?: boolean;
}

export default async function labelList(model: string, f: ListFlags): Promise<void> {
  if (f.limit > MAX_LISTED) throw new VergeError('E_BAD_ARGUMENT', `--limit is at most ${MAX_LISTED}, got ${f.limit}`);
  const q = new URLSearchParams({ model, limit: String(f.limit), offset: String(f.offset) });
  if (f.unlabelled) q.set('labelled', 'false');
  if (f.hard) q.set('order', 'hardest');
  if (f.reason) q.set('reason', f.reason);
  if (f.device) q.set('device', f.device);
  const res = await new CloudClient(resolveCloud(f)).get<{ items: CollectedItem[]; total: number }>(
    `${EDGE_LOOP_PATHS.items}?${q}`,
  );
  emit(f, res, () => {
    if (res.items.length === 0)
      return res.total > 0
        ? `no items at offset ${f.offset} (${res.total} match)`
        : `no ${f.unlabelled ? 'unlabelled ' : ''}collected items of '${model}' in the cloud`;
    const rows = res.items.map((i) => [
      `${i.device_id}/${i.id}`,
      i.model.version,
      i.reason,
      i.predicted,
      i.top1.toFixed(3),
      i.margin.toFixed(3),
      i.label === null ? '-' : `${i.label} (${i.label_source === 'operator' ? 'operator' : 'cloud model'})`,
      new Date(i.received_at).toISOString().slice(0, 19).replace('T', ' '),
    ]);
    const shown = `${f.offset + 1}-${f.offset + res.items.length} of ${res.total}`;
    return (
      table(['item', 'version', 'kept for', 'predicted', 'top-1', 'margin', 'label', 'received (UTC)'], rows) +
      `\n${shown}; label with: verge label set ${model} <item>=<class>`
    );
  });
}
