/**
 * `verge label set <model> <device>/<item>=<class>… [--file labels.csv]`: operator labels for
 * collected items (POST /v1/edge-loop/labels, restricted to `model`). Every pair is checked
 * before anything is sent; items the cloud does not have (or that belong to another model) are
 * named and make the command fail, the others keep their new label.
 */
import { readFileSync, statSync } from 'node:fs';
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { VergeError } from '../../errors.ts';
import {
  EDGE_LOOP_PATHS,
  ItemId,
  MAX_CLASS_INDEX,
  MAX_LABELS_PER_REQUEST,
  isDeviceId,
  type LabelItemsRequest,
  type LabelItemsResponse,
} from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, note } from '../output.ts';

/** Bounds of --file: lines and bytes. */
const MAX_FILE_LINES = 1_000_000;
const MAX_FILE_BYTES = 128 * 2 ** 20;
/** Unknown items a failure message names at most. */
const NAMED = 5;

type Label = LabelItemsRequest['labels'][number];

/** The protocol's bounds, checked here so a bad line is named (the API answers for a whole request). */
function parseLabel(where: string, device: string, id: string, label: string): Label {
  if (!isDeviceId(device)) throw new VergeError('E_BAD_ARGUMENT', `${where}: '${device}' is not a device id`);
  if (!ItemId.safeParse(id).success) throw new VergeError('E_BAD_ARGUMENT', `${where}: '${id}' is not an item id`);
  if (!/^[0-9]{1,7}$/.test(label) || Number(label) > MAX_CLASS_INDEX)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `${where}: the label must be a class index 0-${MAX_CLASS_INDEX}, got '${label}'`,
    );
  return { device_id: device, id, label: Number(label) };
}

function fromPairs(pairs: readonly string[]): Label[] {
  return pairs.map((p) => {
    const m = /^([^/=]+)\/([^/=]+)=(.*)$/.exec(p);
    if (!m) throw new VergeError('E_BAD_ARGUMENT', `'${p}': expected <device id>/<item id>=<class>`);
    return parseLabel(`'${p}'`, m[1]!, m[2]!, m[3]!.trim());
  });
}

function fromFile(path: string): Label[] {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_FILE_BYTES)
      throw new VergeError('E_TOO_LARGE', `${path} is ${size} bytes; --file takes at most ${MAX_FILE_BYTES}`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof VergeError) throw e;
    throw new VergeError('E_FILE_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`);
  }
  const lines = text.split(/\r?\n/);
  if (lines.length > MAX_FILE_LINES + 1)
    throw new VergeError('E_TOO_LARGE', `${path} has ${lines.length} lines; --file takes at most ${MAX_FILE_LINES}`);
  const out: Label[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const cells = line.split(',').map((c) => c.trim());
    if (i === 0 && cells.join() === 'device_id,id,label') return;
    if (cells.length !== 3)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        `${path}:${i + 1}: expected device_id,id,label, got ${cells.length} field(s)`,
      );
    out.push(parseLabel(`${path}:${i + 1}`, cells[0]!, cells[1]!, cells[2]!));
  });
  return out;
}

export default async function labelSet(
  model: string,
  pairs: string[],
  f: CloudCliOptions & { file?: string; json?: boolean },
): Promise<void> {
  const labels = [...fromPairs(pairs), ...(f.file !== undefined ? fromFile(f.file) : [])];
  if (labels.length === 0)
    throw new VergeError('E_BAD_ARGUMENT', 'no labels given: pass <device>/<item>=<class> pairs or --file labels.csv');
  const seen = new Map<string, number>();
  for (const l of labels) {
    const key = `${l.device_id}/${l.id}`;
    const prev = seen.get(key);
    if (prev !== undefined && prev !== l.label)
      throw new VergeError('E_BAD_ARGUMENT', `${key} is given two labels (${prev} and ${l.label})`);
    seen.set(key, l.label);
  }
  const client = new CloudClient(resolveCloud(f));
  const total = { labelled: 0, unknown: 0, unknown_items: [] as { device_id: string; id: string }[] };
  for (let at = 0; at < labels.length; at += MAX_LABELS_PER_REQUEST) {
    const r = await client.post<LabelItemsResponse>(EDGE_LOOP_PATHS.labels, {
      model,
      labels: labels.slice(at, at + MAX_LABELS_PER_REQUEST),
    });
    total.labelled += r.labelled;
    total.unknown += r.unknown;
    total.unknown_items.push(...(r.unknown_items ?? []));
  }
  if (total.unknown > 0) {
    const names = total.unknown_items.slice(0, NAMED).map((u) => `${u.device_id}/${u.id}`);
    if (f.json) emit(f, total, () => '');
    throw new VergeError(
      'E_NOT_FOUND',
      `${total.unknown} of ${labels.length} item(s) are not collected items of '${model}' in the cloud (${names.join(', ')}${total.unknown > names.length ? ', …' : ''}); the other ${total.labelled} are labelled`,
    );
  }
  emit(f, total, () => `labelled ${total.labelled} item(s) of '${model}'`);
  if (!f.json) note(`train on them: verge retrain ${model}@<version> --with-collected`);
}
