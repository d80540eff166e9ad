import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { FL_PATHS, type FlJob } from '../../protocol/index.ts';
import { jobSummary } from '../fl-jobs.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';

/** `verge fl stop <job>` */
export default async function flStop(id: string, o: CloudCliOptions & { json?: boolean }): Promise<void> {
  const j = await new CloudClient(resolveCloud(o)).post<FlJob>(FL_PATHS.stop(id));
  emit(o, jobSummary(j), () => `stopped ${j.id} after ${j.rounds_completed} round(s)`);
}
