import { hostname } from 'node:os';
import { Option, type Command } from 'commander';
import { action } from '../command.ts';
import { number, port, positiveInt, readSecretFile } from '../options.ts';

/** Default HTTP port of `verge cloud` (and of VERGE_CLOUD when unset). */
const DEFAULT_PORT = 8080;
/** Default embedded MQTT port: 1883 is left to a system broker (Mosquitto) if one runs. */
const DEFAULT_MQTT_PORT = 1884;

export function register(program: Command): void {
  program
    .command('cloud')
    .description('run the control plane: operator API, device registry, model registry, deployments, MQTT broker')
    .option('--port <port>', 'HTTP API port (0 = ephemeral)', port('--port'), DEFAULT_PORT)
    .option('--host <addr>', 'HTTP bind address', '127.0.0.1')
    .option(
      '--data-dir <dir>',
      'state directory: SQLite db, artifacts, signing key, admin.key (default: $VERGE_CLOUD_DATA_DIR or verge-cloud)',
    )
    .option('--broker <url>', 'external MQTT broker (mqtt://host:port); default: embedded broker')
    .option('--broker-username <u>', 'control-plane username on the external broker')
    .option(
      '--broker-password-file <path>',
      'read the control-plane password on the external broker from this file (or VERGE_BROKER_PASSWORD)',
      (p: string) => readSecretFile(p, '--broker-password-file'),
    )
    .addOption(new Option('--broker-password <p>').hideHelp()) // refused: `ps` shows argv to every user
    .option(
      '--broker-ca <file>',
      'PEM CA certificate to verify an external mqtts:// broker with (default: the system CAs)',
    )
    .option('--tls-cert <file>', 'serve HTTPS, MQTTS and WSS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option(
      '--tls-auto',
      'serve HTTPS, MQTTS and WSS with a certificate from a private CA created in <data-dir>/tls on first start (agents: --ca <data-dir>/tls/ca-cert.pem)',
    )
    .option(
      '--tls-name <name>',
      'with --tls-auto: another DNS name or IP address devices reach this host by (repeatable; loopback, the host name and interface addresses are always in)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--require-client-cert',
      'mTLS: devices must also present the client certificate issued to them at enrollment (HTTPS device routes and MQTTS; browser tabs cannot, so /v1/mqtt devices are refused)',
    )
    .option('--mqtt-port <port>', 'embedded broker port (0 = ephemeral)', port('--mqtt-port'), DEFAULT_MQTT_PORT)
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
    .option(
      '--db <url>',
      'postgres://user@host:port/db for PostgreSQL (password in PGPASSWORD or ~/.pgpass, never in the URL); default SQLite in the data dir',
    )
    .option('--pg-schema <name>', 'PostgreSQL schema for the tables', 'public')
    .option(
      '--init',
      'create a new signing key if the active one is missing although devices or models exist (they then refuse new artifacts until re-enrolled)',
    )
    .option(
      '--auto-retrain',
      'retrain drifted models here and roll them out as canaries, without an operator (the policy of verge retrain --when-drifted, checked every minute, one run at a time, at most 4 a day; off by default)',
    )
    .option(
      '--auto-retrain-threshold <psi>',
      'drift score (PSI) above which a model is retrained',
      number('--auto-retrain-threshold', { above: 0 }),
      0.25,
    )
    .option(
      '--auto-retrain-cooldown-h <hours>',
      'no new run within N hours of a retrained version or a failed run',
      number('--auto-retrain-cooldown-h', { min: 0 }),
      24,
    )
    .option(
      '--auto-retrain-min-labelled <n>',
      'labelled collected items a run needs',
      positiveInt('--auto-retrain-min-labelled'),
      100,
    )
    .option(
      '--auto-retrain-canary <pct>',
      'canary percentage of the rollout of a retrained version',
      number('--auto-retrain-canary', { above: 0, max: 100 }),
      10,
    )
    .option('--verbose', 'log every HTTP request')
    .option('--json', 'print one JSON object {url, mqtt_url, …} once started')
    .action(action(() => import('../actions/cloud.ts')));
}
