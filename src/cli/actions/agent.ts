import { resolve } from 'node:path';
import { EdgeAgent, parseProfileSpec } from '../../edge/index.ts';
import { chooseSource, describeDataset, loadDataset } from '../../data/index.ts';
import { emit, note } from '../output.ts';

interface AgentOptions {
  cloud?: string;
  enrollToken?: string;
  /** The token read from --enroll-token-file. */
  enrollTokenFile?: string;
  name?: string;
  dataDir?: string;
  port?: number;
  host: string;
  /** The token read from --api-token-file. */
  apiTokenFile?: string;
  profile?: string;
  broker?: string;
  ca?: string;
  allowPlaintext?: boolean;
  threads: number;
  maxBatch?: number;
  maxConcurrent?: number;
  maxQueue?: number;
  predictTimeout?: number;
  data?: string;
  flCollected?: boolean | string;
  json?: boolean;
  quiet?: boolean;
}

/** `verge agent …`: runs until SIGINT/SIGTERM. */
export default async function agent(opts: AgentOptions): Promise<void> {
  const cloud = opts.cloud ?? process.env.VERGE_CLOUD;
  const dataDir = resolve(opts.dataDir ?? (opts.name ? `.verge/agent-${opts.name}` : '.verge/agent'));
  const local = opts.data;
  if (local) chooseSource(local); // a missing or unreadable --data fails now, not at the first FL round
  const agent = await EdgeAgent.start({
    dataDir,
    cloudUrl: cloud,
    enrollToken: opts.enrollToken ?? opts.enrollTokenFile,
    name: opts.name,
    profile: parseProfileSpec(opts.profile),
    port: opts.port,
    host: opts.host,
    apiToken: opts.apiTokenFile,
    brokerUrl: opts.broker,
    caFile: opts.ca,
    allowPlaintext: !!opts.allowPlaintext,
    sessionThreads: opts.threads,
    predictLimits: {
      ...(opts.maxBatch !== undefined ? { maxBatch: opts.maxBatch } : {}),
      ...(opts.maxConcurrent !== undefined ? { concurrency: opts.maxConcurrent } : {}),
      ...(opts.maxQueue !== undefined ? { queue: opts.maxQueue } : {}),
      ...(opts.predictTimeout !== undefined ? { timeoutMs: opts.predictTimeout } : {}),
    },
    log: opts.quiet ? undefined : note,
    ...(opts.flCollected
      ? { flCollected: typeof opts.flCollected === 'string' ? { model: opts.flCollected } : {} }
      : {}),
    ...(local
      ? {
          // the FL client's local dataset (with --fl-collected, the collected items join it)
          localData: async () => {
            const ds = await loadDataset(local);
            if (!opts.quiet) note(`FL local ${describeDataset(ds)}`);
            return ds;
          },
        }
      : {}),
  });
  const served = agent.served.list().map((m) => `${m.name}@${m.version} (${m.variant})`);
  emit(
    opts,
    {
      url: agent.url,
      device_id: agent.deviceId,
      name: agent.name,
      data_dir: dataDir,
      models: agent.served.names(),
    },
    () =>
      [
        `agent ${agent.name} (${agent.deviceId}) serving on ${agent.url}`,
        `  predict: POST ${agent.url}/v1/models/<name>:predict   models: GET ${agent.url}/v1/models`,
        ...(opts.apiTokenFile ? ['  auth: Authorization: Bearer <the token in --api-token-file>'] : []),
        `  serving: ${served.join(', ') || 'nothing yet (waiting for a deployment)'}`,
        `  data dir: ${dataDir}`,
      ].join('\n'),
  );
  await new Promise<void>((done) => {
    const shutdown = (signal: string) => {
      note(`[${agent.name}] ${signal}: stopping (queued telemetry is kept for the next start)`);
      agent.stop().finally(done);
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}
