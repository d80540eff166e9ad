import type { Command } from 'commander';
import { action } from '../command.ts';
import { nonNegativeInt, port, positiveInt, readSecretFile } from '../options.ts';
import { DEVICE_CLASS_NAMES as PROFILE_PRESET_NAMES } from '../../protocol/device-classes.ts';

export function register(program: Command): void {
  program
    .command('agent')
    .summary('run the edge agent: enroll, receive deployments, serve models on a local HTTP API')
    .description(
      'run the edge agent: enroll with the cloud (first start), keep the MQTT session, load deployed models and serve them on a local HTTP API (POST /v1/models/<name>:predict, GET /v1/models, /metrics). A restart with the same --data-dir resumes without re-enrolling and serves the last good models even while the cloud is unreachable.',
    )
    .option('--cloud <url>', 'control plane URL (default: $VERGE_CLOUD; needed for the first start)')
    .option('--enroll-token <token>', 'one-time enrollment token from `verge enroll-token` (first start only)')
    .option('--enroll-token-file <path>', 'read the enrollment token from this file (not shown by `ps`)', (p: string) =>
      readSecretFile(p, '--enroll-token-file'),
    )
    .option('--name <name>', 'device name shown by `verge devices` (default: host name)')
    .option(
      '--data-dir <dir>',
      'identity, models and telemetry queue (default: ./.verge/agent or ./.verge/agent-<name>)',
    )
    .option('--port <port>', 'local API port (default: the port of the previous run, else a free one)', port('--port'))
    .option(
      '--host <addr>',
      'local API bind address; an address other than loopback needs --api-token-file',
      '127.0.0.1',
    )
    .option(
      '--api-token-file <path>',
      'require `Authorization: Bearer <token>` on the local API (all but /healthz); the token is the first line of this file, at least 22 characters (e.g. `openssl rand -hex 32`)',
      (p: string) => readSecretFile(p, '--api-token-file'),
    )
    .option(
      '--profile <spec>',
      `device profile: a preset (${PROFILE_PRESET_NAMES.join(', ')}) and/or k=v pairs, e.g. "camera,memory_mb=512" or "precisions=int8+fp32" (default: detected from this host)`,
    )
    .option('--broker <url>', 'MQTT broker URL, overriding the one the cloud named at enrollment')
    .option(
      '--ca <file>',
      "PEM CA certificate the cloud's and broker's TLS certificates must chain to, e.g. the cloud's <data-dir>/tls/ca-cert.pem (default: the system CAs)",
    )
    .option(
      '--allow-plaintext',
      'allow http:// and mqtt:// to a host other than loopback (refused by default: the password, tokens and models would cross the network in clear)',
    )
    .option('--threads <n>', 'onnxruntime threads per model session', positiveInt('--threads'), 1)
    .option(
      '--data <name|dir>',
      'local training data for federated learning (any --data form; read when the first FL task arrives, never uploaded)',
    )
    .option(
      '--fl-collected [model]',
      "train federated rounds on the items this agent collected (edge data loop; labels: the cloud model's answers where offloaded, else the device model's own predictions), only those of [model] if given; joined with --data when both are given",
    )
    .option(
      '--max-batch <n>',
      'largest batch (first dimension) one predict request may send (default 1024)',
      positiveInt('--max-batch'),
    )
    .option(
      '--max-concurrent <n>',
      'predictions running at once (default: cores, at most 4)',
      positiveInt('--max-concurrent'),
    )
    .option(
      '--max-queue <n>',
      'predict requests waiting for a slot; beyond this the API answers 429 with Retry-After (default 32)',
      nonNegativeInt('--max-queue'),
    )
    .option(
      '--predict-timeout <ms>',
      'deadline of a predict request, waiting included: 503 E_TIMEOUT after it (default 30000)',
      positiveInt('--predict-timeout'),
    )
    .option('--json', 'print one JSON object {url, device_id, name, data_dir} once started')
    .option('--quiet', 'no progress lines on stderr')
    .action(action(() => import('../actions/agent.ts')));
}
