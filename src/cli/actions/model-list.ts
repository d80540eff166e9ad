/** `verge model list [name]`: models, versions and variants. */
import { CloudClient, resolveCloud } from '../../cloud/index.ts';
import { HTTP_PATHS, type ModelsResponse } from '../../protocol/index.ts';
import type { CloudCliOptions } from '../options.ts';
import { emit, table } from '../output.ts';

export default async function list(
  name: string | undefined,
  opts: CloudCliOptions & { json?: boolean },
): Promise<void> {
  const client = new CloudClient(resolveCloud(opts));
  const res = await client.get<ModelsResponse>(name ? HTTP_PATHS.model(name) : HTTP_PATHS.models);
  emit(opts, res, () =>
    table(
      ['model', 'version', 'variants', 'parent', 'optimization'],
      res.models.flatMap((m) =>
        m.versions.map((v) => [
          m.name,
          v.version,
          v.variants.map((x) => `${x.variant}(${x.size})`).join(' '),
          v.parent ?? '-',
          v.optimization ?? '-',
        ]),
      ),
    ),
  );
}
