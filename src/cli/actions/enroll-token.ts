/** `verge enroll-token [--tag k=v] [--ttl s]`: a one-time device enrollment token. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type EnrollTokenResponse } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit } from '../output.ts';

export default async function enrollToken(
  opts: CloudCliOptions & { tag: Record<string, string>; ttl?: number; json?: boolean },
): Promise<void> {
  const client = new CloudClient(resolveCloud(opts));
  const res = await client.post<EnrollTokenResponse>(HTTP_PATHS.enrollTokens, { tags: opts.tag, ttl_s: opts.ttl });
  emit(opts, res, () => res.token);
}
