import { hostname } from 'node:os';
import type { Command } from 'commander';
import { VergeError } from '../../errors.ts';
import { buildControlPlane } from '../../cloud/index.ts';
import { emit, note } from '../output.ts';

/** Default HTTP port of `verge cloud` (and of VERGE_CLOUD when unset). */
const DEFAULT_PORT = 8080;
/** Default embedded MQTT port: 1883 is left to a system broker (Mosquitto) if one runs. */
const DEFAULT_MQTT_PORT = 1884;

function intOption(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new VergeError('E_BAD_ARGUMENT', `${name} must be a port number 0-65535, got '${v}'`);
  return n;
}

export function register(program: Command): void {
  program
    .command('cloud')
    .description('run the control plane: operator API, device registry, model registry, deployments, MQTT broker')
    .option('--port <port>', 'HTTP API port (0 = ephemeral)', String(DEFAULT_PORT))
    .option('--host <addr>', 'HTTP bind address', '127.0.0.1')
    .option(
      '--data-dir <dir>',
      'state directory: SQLite db, artifacts, signing key, admin.key',
      process.env.VERGE_CLOUD_DATA_DIR ?? 'verge-cloud',
    )
    .option('--broker <url>', 'external MQTT broker (mqtt://host:port); default: embedded broker')
    .option('--broker-username <u>', 'control-plane username on the external broker')
    .option('--broker-password <p>', 'control-plane password on the external broker (or VERGE_BROKER_PASSWORD)')
    .option('--mqtt-port <port>', 'embedded broker port (0 = ephemeral)', String(DEFAULT_MQTT_PORT))
    .option('--mqtt-host <addr>', 'embedded broker bind address', '127.0.0.1')
    .option('--public-mqtt-url <url>', 'broker URL handed to devices at enrollment (default: the broker URL)')
    .option(
      '--instance-id <id>',
      'stable id of this replica on an external broker (keeps a persistent MQTT session)',
      hostname(),
    )
    .option(
      '--shared-subscriptions',
      'external broker, several replicas: split device messages across replicas ($share) instead of each handling all (not durable across a Mosquitto restart)',
    )
    .option(
      '--mosquitto-auth-dir <dir>',
      'with an external Mosquitto: write its password_file and acl_file here (reload it with SIGHUP)',
    )
    .option('--db <url>', 'postgres://user@host:port/db for PostgreSQL; default SQLite in the data dir')
    .option('--pg-schema <name>', 'PostgreSQL schema for the tables', 'public')
    .option('--verbose', 'log every HTTP request')
    .option('--json', 'print one JSON object {url, mqtt_url, …} once started')
    .action(async (opts) => {
      const cp = await buildControlPlane({
        dataDir: opts.dataDir,
        db: opts.db,
        pgSchema: opts.pgSchema,
        broker: opts.broker,
        brokerUsername: opts.brokerUsername,
        brokerPassword: opts.brokerPassword ?? process.env.VERGE_BROKER_PASSWORD,
        mqttHost: opts.mqttHost,
        mqttPort: intOption('--mqtt-port', opts.mqttPort),
        publicMqttUrl: opts.publicMqttUrl,
        mosquittoAuthDir: opts.mosquittoAuthDir,
        sharedSubscriptions: !!opts.sharedSubscriptions,
        instanceId: opts.broker ? opts.instanceId : undefined,
        host: opts.host,
        logger: !!opts.verbose,
      });
      let started;
      try {
        started = await cp.start({ port: intOption('--port', opts.port) });
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
        data_dir: opts.dataDir,
        admin_key_file: cp.adminKeyPath,
        db: opts.db ? 'postgres' : 'sqlite',
        broker: opts.broker ? 'external' : 'embedded',
      };
      emit(opts, info, () =>
        [
          `verge cloud: API ${started.url}  (OpenAPI ${info.openapi}, metrics ${started.url}/metrics)`,
          `  MQTT ${started.mqttUrl} (${info.broker}), state ${info.db} in ${opts.dataDir}`,
          `  admin API key: ${cp.adminKeyPath}`,
          `  operators: export VERGE_CLOUD=${started.url} VERGE_API_KEY=$(cat ${cp.adminKeyPath})`,
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
    });
}
