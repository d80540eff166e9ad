import { VergeError } from '../../errors.ts';
import { buildControlPlane } from '../../cloud/index.ts';
import { EDGE_LOOP_PATHS } from '../../protocol/index.ts';
import { emit, note } from '../output.ts';

/** Default state directory (relative to the working directory). */
const DEFAULT_DATA_DIR = 'verge-cloud';

interface CloudOptions {
  port: number;
  host: string;
  dataDir?: string;
  broker?: string;
  brokerUsername?: string;
  brokerPassword?: string;
  /** The password read from --broker-password-file. */
  brokerPasswordFile?: string;
  brokerCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsAuto?: boolean;
  tlsName?: string[];
  requireClientCert?: boolean;
  mqttPort: number;
  mqttHost: string;
  publicMqttUrl?: string;
  instanceId: string;
  sharedSubscriptions?: boolean;
  mosquittoAuthDir?: string;
  db?: string;
  pgSchema: string;
  verbose?: boolean;
  init?: boolean;
  autoRetrain?: boolean;
  autoRetrainThreshold: number;
  autoRetrainCooldownH: number;
  autoRetrainMinLabelled: number;
  autoRetrainCanary: number;
  json?: boolean;
}

/** `verge cloud …`: runs until SIGINT/SIGTERM. */
/** Secrets never come from argv, which `ps` shows every user of the machine: files or the environment. */
function refuseSecretsOnArgv(opts: CloudOptions): void {
  if (opts.brokerPassword !== undefined)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      '--broker-password would show the password to every user of this machine (ps): use --broker-password-file or VERGE_BROKER_PASSWORD',
    );
  if (opts.db && /^postgres(ql)?:\/\//.test(opts.db)) {
    let password = '';
    try {
      password = new URL(opts.db).password;
    } catch {
      // not a URL: openDatabase reports it
    }
    if (password)
      throw new VergeError(
        'E_BAD_ARGUMENT',
        '--db carries a password, which ps shows to every user of this machine: give it in PGPASSWORD or ~/.pgpass',
      );
  }
}

function brokerPassword(opts: CloudOptions): string | undefined {
  return opts.brokerPasswordFile ?? process.env.VERGE_BROKER_PASSWORD;
}

export default async function cloud(opts: CloudOptions): Promise<void> {
  const dataDir = opts.dataDir ?? process.env.VERGE_CLOUD_DATA_DIR ?? DEFAULT_DATA_DIR;
  refuseSecretsOnArgv(opts);
  const password = brokerPassword(opts);
  const cp = await buildControlPlane({
    dataDir,
    db: opts.db,
    pgSchema: opts.pgSchema,
    broker: opts.broker,
    brokerUsername: opts.brokerUsername,
    brokerPassword: password,
    brokerCaFile: opts.brokerCa,
    tls: {
      certFile: opts.tlsCert,
      keyFile: opts.tlsKey,
      auto: !!opts.tlsAuto,
      names: opts.tlsName,
      requireClientCert: !!opts.requireClientCert,
    },
    mqttHost: opts.mqttHost,
    mqttPort: opts.mqttPort,
    publicMqttUrl: opts.publicMqttUrl,
    mosquittoAuthDir: opts.mosquittoAuthDir,
    sharedSubscriptions: !!opts.sharedSubscriptions,
    instanceId: opts.broker ? opts.instanceId : undefined,
    host: opts.host,
    logger: !!opts.verbose,
    init: !!opts.init,
    log: note,
    autoRetrain: opts.autoRetrain
      ? {
          threshold: opts.autoRetrainThreshold,
          cooldownMs: opts.autoRetrainCooldownH * 3600_000,
          minLabelled: opts.autoRetrainMinLabelled,
          canaryPercent: opts.autoRetrainCanary,
        }
      : false,
  });
  let started;
  try {
    started = await cp.start({ port: opts.port });
  } catch (e) {
    await cp.close().catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE')
      throw new VergeError('E_NETWORK', `port already in use (${err.message}); pass --port / --mqtt-port`);
    throw e;
  }
  const info = {
    url: started.url,
    mqtt_url: started.mqttUrl,
    openapi: `${started.url}/openapi.json`,
    data_dir: dataDir,
    admin_key_file: cp.adminKeyPath,
    db: opts.db ? 'postgres' : 'sqlite',
    broker: opts.broker ? 'external' : 'embedded',
    auto_retrain: cp.retrain.enabled,
    ca_file: cp.caFile,
  };
  emit(opts, info, () =>
    [
      `verge cloud: API ${started.url}  (OpenAPI ${info.openapi}, metrics ${started.url}/metrics)`,
      `  MQTT ${started.mqttUrl} (${info.broker}), state ${info.db} in ${dataDir}`,
      `  admin API key: ${cp.adminKeyPath}`,
      ...(cp.caFile && opts.tlsAuto ? [`  TLS: private CA ${cp.caFile} (agents: verge agent --ca ${cp.caFile})`] : []),
      `  auto-retrain: ${cp.retrain.enabled ? 'on' : 'off'} (GET ${EDGE_LOOP_PATHS.retrain})`,
      `  operators: export VERGE_CLOUD=${started.url} VERGE_API_KEY=$(cat ${cp.adminKeyPath})` +
        (cp.caFile && opts.tlsAuto ? ` NODE_EXTRA_CA_CERTS=${cp.caFile}` : ''),
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      note(`verge cloud: ${signal}, shutting down`);
      cp.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
