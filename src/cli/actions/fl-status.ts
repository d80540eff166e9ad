import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { FL_PATHS, type FlJob } from '../../protocol/index.ts';
import { jobReport, jobSummary, jobsTable } from '../fl-jobs.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';

/** `verge fl status [job]` */
export default async function flStatus(id: string | undefined, o: CloudCliOptions & { json?: boolean }): Promise<void> {
  const client = new CloudClient(resolveCloud(o));
  if (id) {
    const j = await client.get<FlJob>(FL_PATHS.job(id));
    emit(o, jobSummary(j), () => jobReport(j));
    return;
  }
  const { jobs } = await client.get<{ jobs: FlJob[] }>(FL_PATHS.jobs);
  emit(o, { jobs: jobs.map(jobSummary) }, () => jobsTable(jobs));
}
