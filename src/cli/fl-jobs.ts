/**
 * What `verge fl start|status|stop` share: how a job is reported (JSON summary, human table) and
 * `--wait`'s round-by-round follow-up on stderr.
 */
import type { CloudClient } from '../cloud/index.ts';
import { FL_PATHS, type FlJob } from '../protocol/index.ts';
import { note, table } from './output.ts';

/** How often `--wait` asks for the job. */
const POLL_MS = 1000;

const pct = (a: number | null | undefined): string =>
  a === null || a === undefined ? '-' : `${(a * 100).toFixed(2)}%`;

/** The JSON a job command prints (the CLI contract: job, state, rounds_completed, final, published). */
export function jobSummary(j: FlJob): Record<string, unknown> {
  return {
    job: j.id,
    state: j.state,
    rounds_completed: j.rounds_completed,
    rounds: j.rounds,
    strategy: j.strategy,
    final: j.final,
    published: j.published,
    error: j.error,
    ...(j.privacy ? { epsilon: j.privacy.epsilon, delta: j.privacy.delta } : {}),
    history: j.history,
  };
}

export function jobReport(j: FlJob): string {
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
          pct(h.accuracy),
        ]),
      ),
    );
  if (j.privacy)
    lines.push(
      `privacy spent: ε = ${j.privacy.epsilon.toFixed(3)} at δ = ${j.privacy.delta} (clip ${j.privacy.clip}, noise ×${j.privacy.noise_multiplier})`,
    );
  if (j.final?.accuracy != null) lines.push(`final accuracy on the devices' hold-outs: ${pct(j.final.accuracy)}`);
  if (j.published)
    lines.push(
      `published ${j.published.name}@${j.published.version} (roll it out: verge deploy ${j.published.name}@${j.published.version} --tag … --strategy canary:20)`,
    );
  return lines.join('\n');
}

export function jobsTable(jobs: FlJob[]): string {
  return jobs.length === 0
    ? 'no FL jobs (start one with `verge fl start <model> --tag k=v --rounds R`)'
    : table(
        ['job', 'state', 'rounds', 'strategy', 'accuracy', 'published'],
        jobs.map((j) => [
          j.id,
          j.state,
          `${j.rounds_completed}/${j.rounds}`,
          j.strategy,
          pct(j.final?.accuracy),
          j.published ? `${j.published.name}@${j.published.version}` : '-',
        ]),
      );
}

/** Poll the job until it ends, printing each round as it closes. */
export async function followJob(client: CloudClient, id: string): Promise<FlJob> {
  let seen = 0;
  for (;;) {
    const j = await client.get<FlJob>(FL_PATHS.job(id));
    for (const h of j.history.filter((x) => x.state !== 'open').slice(seen)) {
      note(
        `round ${h.round} (${h.task}) ${h.state}: ${h.accepted}/${h.selected} accepted` +
          `${h.rejected ? `, ${h.rejected} rejected` : ''}${h.missing ? `, ${h.missing} missing` : ''}${h.late ? `, ${h.late} late` : ''}` +
          `${h.accuracy !== null ? `, hold-out accuracy ${pct(h.accuracy)}` : ''}`,
      );
      seen++;
    }
    if (j.state !== 'running') return j;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
