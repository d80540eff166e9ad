/**
 * `verge fl start|status|stop`: federated jobs over the real fleet, through the control plane's
 * FL API (src/cloud/fl-*.ts). `start --wait` follows the job round by round on stderr.
 */
import { existsSync } from 'node:fs';
import { CloudClient, resolveCloud } from '../../cloud/client.ts';
import { VergeError } from '../../errors.ts';
import { readBytes } from '../../onnx/io.ts';
import { FL_PATHS, HTTP_PATHS, type FlJob } from '../../protocol/index.ts';
import { emit, note, table } from '../output.ts';

export interface CloudFlags {
  cloud?: string;
  apiKey?: string;
  dataDir?: string;
  json?: boolean;
}

export interface StartFlags extends CloudFlags {
  devices?: string;
  tag?: string[];
  rounds: string;
  strategy: string;
  minClients: string;
  fractionFit: string;
  roundTimeout: string;
  localEpochs: string;
  batch: string;
  lr?: string;
  compress: string;
  publish?: string;
  wait?: boolean;
}

/** How often `--wait` asks for the job. */
const POLL_MS = 1000;

function num(flag: string, v: string, integer: boolean): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `${flag} must be a positive ${integer ? 'whole number' : 'number'}, got '${v}'`,
    );
  return n;
}

function parseTags(tags: string[] | undefined): Record<string, string> | undefined {
  if (!tags?.length) return undefined;
  return Object.fromEntries(
    tags.map((t) => {
      const i = t.indexOf('=');
      if (i <= 0) throw new VergeError('E_BAD_ARGUMENT', `--tag must be key=value, got '${t}'`);
      return [t.slice(0, i), t.slice(i + 1)];
    }),
  );
}

function nameAtVersion(flag: string, s: string): { name: string; version: string } {
  const m = /^([A-Za-z0-9][A-Za-z0-9_.-]*)@(\S+)$/.exec(s);
  if (!m) throw new VergeError('E_BAD_ARGUMENT', `${flag} must be name@version, got '${s}'`);
  return { name: m[1]!, version: m[2]! };
}

function summary(j: FlJob): Record<string, unknown> {
  return {
    job: j.id,
    state: j.state,
    rounds_completed: j.rounds_completed,
    rounds: j.rounds,
    strategy: j.strategy,
    final: j.final,
    published: j.published,
    error: j.error,
    history: j.history,
  };
}

function human(j: FlJob): string {
  const lines = [
    `${j.id}: ${j.state}, ${j.rounds_completed}/${j.rounds} rounds, ${j.strategy}${j.error ? ` — ${j.error}` : ''}`,
  ];
  if (j.history.length)
    lines.push(
      table(
        ['round', 'task', 'state', 'selected', 'accepted', 'rejected', 'late', 'missing', 'accuracy'],
        j.history.map((h) => [
          h.round,
          h.task,
          h.state,
          h.selected,
          h.accepted,
          h.rejected,
          h.late,
          h.missing,
          h.accuracy === null ? '-' : `${(h.accuracy * 100).toFixed(2)}%`,
        ]),
      ),
    );
  if (j.final?.accuracy != null)
    lines.push(`final accuracy on the devices' hold-outs: ${(j.final.accuracy * 100).toFixed(2)}%`);
  if (j.published)
    lines.push(
      `published ${j.published.name}@${j.published.version} (deploy it: verge deploy ${j.published.name}@${j.published.version} --strategy canary:20)`,
    );
  return lines.join('\n');
}

async function follow(client: CloudClient, id: string): Promise<FlJob> {
  let seen = 0;
  for (;;) {
    const j = await client.get<FlJob>(FL_PATHS.job(id));
    for (const h of j.history.filter((x) => x.state !== 'open').slice(seen)) {
      note(
        `round ${h.round} (${h.task}) ${h.state}: ${h.accepted}/${h.selected} accepted` +
          `${h.rejected ? `, ${h.rejected} rejected` : ''}${h.missing ? `, ${h.missing} missing` : ''}${h.late ? `, ${h.late} late` : ''}` +
          `${h.accuracy !== null ? `, hold-out accuracy ${(h.accuracy * 100).toFixed(2)}%` : ''}`,
      );
      seen++;
    }
    if (j.state !== 'running') return j;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function runStart(model: string, f: StartFlags): Promise<void> {
  const tags = parseTags(f.tag);
  const devices = f.devices
    ?.split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  if (!devices?.length && !tags)
    throw new VergeError('E_BAD_ARGUMENT', 'choose the clients with --devices a,b or --tag k=v');
  const client = new CloudClient(resolveCloud(f));
  let ref: { sha256: string } | { name: string; version: string };
  if (existsSync(model))
    ref = { sha256: (await client.upload<{ sha256: string }>(HTTP_PATHS.artifacts, readBytes(model))).sha256 };
  else if (model.includes('@')) ref = nameAtVersion('model', model);
  else throw new VergeError('E_FILE_NOT_FOUND', `${model} is neither a file nor name@version`);
  const job = await client.post<FlJob>(FL_PATHS.jobs, {
    model: ref,
    target: { ...(devices?.length ? { devices } : {}), ...(tags ? { tags } : {}) },
    rounds: num('--rounds', f.rounds, true),
    strategy: f.strategy,
    min_fit_clients: num('--min-clients', f.minClients, true),
    fraction_fit: num('--fraction-fit', f.fractionFit, false),
    round_timeout_s: num('--round-timeout', f.roundTimeout, false),
    local_epochs: num('--local-epochs', f.localEpochs, true),
    batch_size: num('--batch', f.batch, true),
    ...(f.lr ? { lr: num('--lr', f.lr, false) } : {}),
    compress: f.compress,
    ...(f.publish ? { publish: nameAtVersion('--publish', f.publish) } : {}),
  });
  note(`started ${job.id}`);
  const final = f.wait ? await follow(client, job.id) : job;
  emit(f, summary(final), () => human(final));
  if (f.wait && final.state !== 'completed') process.exitCode = 1;
}

export async function runStatus(id: string | undefined, f: CloudFlags): Promise<void> {
  const client = new CloudClient(resolveCloud(f));
  if (id) {
    const j = await client.get<FlJob>(FL_PATHS.job(id));
    emit(f, summary(j), () => human(j));
    return;
  }
  const { jobs } = await client.get<{ jobs: FlJob[] }>(FL_PATHS.jobs);
  emit(f, { jobs: jobs.map(summary) }, () =>
    jobs.length === 0
      ? 'no FL jobs (start one with `verge fl start <model> --tag k=v --rounds R`)'
      : table(
          ['job', 'state', 'rounds', 'strategy', 'accuracy', 'published'],
          jobs.map((j) => [
            j.id,
            j.state,
            `${j.rounds_completed}/${j.rounds}`,
            j.strategy,
            j.final?.accuracy != null ? `${(j.final.accuracy * 100).toFixed(2)}%` : '-',
            j.published ? `${j.published.name}@${j.published.version}` : '-',
          ]),
        ),
  );
}

export async function runStop(id: string, f: CloudFlags): Promise<void> {
  const j = await new CloudClient(resolveCloud(f)).post<FlJob>(FL_PATHS.stop(id));
  emit(f, summary(j), () => `stopped ${j.id} after ${j.rounds_completed} round(s)`);
}
