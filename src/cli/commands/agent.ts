import type { Command } from 'commander';
import { resolve } from 'node:path';
import { EdgeAgent } from '../../edge/agent.ts';
import { parseProfileSpec, PROFILE_PRESETS } from '../../edge/profile.ts';
import { VergeError } from '../../errors.ts';
import { emit, note } from '../output.ts';

interface AgentOptions {
  cloud?: string;
  enrollToken?: string;
  name?: string;
  dataDir?: string;
  port?: string;
  host: string;
  profile?: string;
  broker?: string;
  threads: string;
  json?: boolean;
  quiet?: boolean;
}

function intOption(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new VergeError('E_BAD_ARGUMENT', `${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

export function register(program: Command): void {
  program
    .command('agent')
    .description(
      'run the edge agent: enroll with the cloud (first start), keep the MQTT session, load deployed models and serve them on a local HTTP API (POST /v1/models/<name>:predict, GET /v1/models, /metrics). A restart with the same --data-dir resumes without re-enrolling and serves the last good models even while the cloud is unreachable.',
    )
    .option('--cloud <url>', 'control plane URL (default: $VERGE_CLOUD; needed for the first start)')
    .option('--enroll-token <token>', 'one-time enrollment token from `verge enroll-token` (first start only)')
    .option('--name <name>', 'device name shown by `verge devices` (default: host name)')
    .option(
      '--data-dir <dir>',
      'identity, models and telemetry queue (default: ./.verge/agent or ./.verge/agent-<name>)',
    )
    .option('--port <port>', 'local API port (default: the port of the previous run, else a free one)')
    .option('--host <addr>', 'local API bind address', '127.0.0.1')
    .option(
      '--profile <spec>',
      `device profile: a preset (${Object.keys(PROFILE_PRESETS).join(', ')}) and/or k=v pairs, e.g. "camera,memory_mb=512" or "precisions=int8+fp32" (default: detected from this host)`,
    )
    .option('--broker <url>', 'MQTT broker URL, overriding the one the cloud named at enrollment')
    .option('--threads <n>', 'onnxruntime threads per model session', '1')
    .option('--json', 'print one JSON object {url, device_id, name, data_dir} once started')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (opts: AgentOptions) => {
      const cloud = opts.cloud ?? process.env.VERGE_CLOUD;
      const dataDir = resolve(opts.dataDir ?? (opts.name ? `.verge/agent-${opts.name}` : '.verge/agent'));
      const agent = await EdgeAgent.start({
        dataDir,
        cloudUrl: cloud,
        enrollToken: opts.enrollToken,
        name: opts.name,
        profile: parseProfileSpec(opts.profile),
        port: intOption('--port', opts.port, 0),
        host: opts.host,
        brokerUrl: opts.broker,
        sessionThreads: intOption('--threads', opts.threads, 1),
        log: opts.quiet ? undefined : note,
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
    });
}
