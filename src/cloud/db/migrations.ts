/**
 * Control-plane tables, in the SQL subset SQLite and PostgreSQL share (TEXT, BIGINT, INTEGER,
 * DOUBLE PRECISION; JSON kept as TEXT; booleans as 0/1). Idempotent: replicas run them at start.
 */
export const MIGRATIONS: readonly string[] = Object.freeze([
  `CREATE TABLE IF NOT EXISTS api_keys (
     key_hash TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT, created_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS broker_accounts (
     username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, updated_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS enroll_tokens (
     token_hash TEXT PRIMARY KEY, tags TEXT NOT NULL, expires_at BIGINT NOT NULL,
     used_at BIGINT, device_id TEXT, created_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS devices (
     id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL, tags TEXT NOT NULL,
     profile TEXT, presence TEXT NOT NULL DEFAULT 'offline', revoked_at BIGINT, last_seen BIGINT,
     models TEXT NOT NULL DEFAULT '[]', generation BIGINT NOT NULL DEFAULT 0, enrolled_at BIGINT NOT NULL,
     broker_hash TEXT)`,
  `CREATE TABLE IF NOT EXISTS artifacts (sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, created_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS model_versions (
     name TEXT NOT NULL, version TEXT NOT NULL, parent TEXT, optimization TEXT, metrics TEXT NOT NULL,
     created_at BIGINT NOT NULL, PRIMARY KEY (name, version))`,
  `CREATE TABLE IF NOT EXISTS model_variants (
     name TEXT NOT NULL, version TEXT NOT NULL, variant TEXT NOT NULL, precision TEXT NOT NULL, profile TEXT,
     sha256 TEXT NOT NULL, size BIGINT NOT NULL, signature TEXT NOT NULL, key_id TEXT NOT NULL,
     created_at BIGINT NOT NULL, PRIMARY KEY (name, version, variant))`,
  `CREATE TABLE IF NOT EXISTS deployments (
     id TEXT PRIMARY KEY, model TEXT NOT NULL, version TEXT NOT NULL, previous_version TEXT, target TEXT NOT NULL,
     strategy TEXT NOT NULL, canary_percent INTEGER, health TEXT NOT NULL, auto_promote INTEGER NOT NULL,
     state TEXT NOT NULL, reason TEXT, gate_passed_at BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS deployment_devices (
     deployment_id TEXT NOT NULL, device_id TEXT NOT NULL, canary INTEGER NOT NULL, released INTEGER NOT NULL,
     state TEXT NOT NULL, variant TEXT, error TEXT, previous_version TEXT, previous_deployment TEXT,
     updated_at BIGINT NOT NULL, PRIMARY KEY (deployment_id, device_id))`,
  `CREATE TABLE IF NOT EXISTS assignments (
     device_id TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, deployment_id TEXT NOT NULL,
     PRIMARY KEY (device_id, model))`,
  `CREATE TABLE IF NOT EXISTS telemetry (
     id TEXT PRIMARY KEY, device_id TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, variant TEXT NOT NULL,
     deployment_id TEXT, window_start BIGINT NOT NULL, window_end BIGINT NOT NULL, inferences BIGINT NOT NULL,
     errors BIGINT NOT NULL, latency TEXT NOT NULL, results TEXT, received_at BIGINT NOT NULL)`,
  // telemetry records the database refused on their own (telemetry.ts): kept for inspection, never retried
  `CREATE TABLE IF NOT EXISTS telemetry_dead_letter (
     id TEXT NOT NULL, device_id TEXT NOT NULL, payload TEXT NOT NULL, error TEXT NOT NULL, received_at BIGINT NOT NULL)`,
  // a model version's records by time (the canary gate: its devices' records since the deployment
  // began; summaries since a time). By time rather than by device (the former telemetry_model, on
  // (model, version, device_id)): a new record lands at the end of this index, not on a random
  // page of it — one B-tree fewer with random keys per insert (ids and telemetry_device stay random)
  `CREATE INDEX IF NOT EXISTS telemetry_model_time ON telemetry (model, version, window_end)`,
  `DROP INDEX IF EXISTS telemetry_model`,
  `CREATE INDEX IF NOT EXISTS deployments_model ON deployments (model, state)`,
  // federated learning (repositories/fl.ts)
  `CREATE TABLE IF NOT EXISTS fl_jobs (
     id TEXT PRIMARY KEY, state TEXT NOT NULL, spec TEXT NOT NULL, model_sha256 TEXT NOT NULL,
     model_name TEXT, model_version TEXT, global_sha256 TEXT NOT NULL, strategy_state_sha256 TEXT,
     current_round INTEGER NOT NULL DEFAULT 0, rounds_completed INTEGER NOT NULL DEFAULT 0,
     final TEXT, published TEXT, error TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS fl_rounds (
     job_id TEXT NOT NULL, round INTEGER NOT NULL, task TEXT NOT NULL, state TEXT NOT NULL,
     model_sha256 TEXT NOT NULL, deadline BIGINT NOT NULL, accuracy DOUBLE PRECISION, loss DOUBLE PRECISION,
     uplink_bytes BIGINT NOT NULL DEFAULT 0, opened_at BIGINT NOT NULL, closed_at BIGINT,
     PRIMARY KEY (job_id, round))`,
  `CREATE TABLE IF NOT EXISTS fl_participants (
     job_id TEXT NOT NULL, round INTEGER NOT NULL, device_id TEXT NOT NULL, token TEXT NOT NULL,
     state TEXT NOT NULL, update_sha256 TEXT, examples BIGINT, metrics TEXT, error TEXT, bytes BIGINT,
     received_at BIGINT, PRIMARY KEY (job_id, round, device_id))`,
  `CREATE TABLE IF NOT EXISTS fl_device_keys (
     device_id TEXT PRIMARY KEY, public_key_pem TEXT NOT NULL, key_id TEXT NOT NULL, created_at BIGINT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS fl_jobs_state ON fl_jobs (state)`,
  // edge data loop (repositories/edge-loop.ts)
  `CREATE TABLE IF NOT EXISTS loop_policies (
     deployment_id TEXT PRIMARY KEY, policy TEXT NOT NULL, updated_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS loop_items (
     device_id TEXT NOT NULL, id TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, deployment_id TEXT,
     input TEXT NOT NULL, created_at BIGINT NOT NULL, received_at BIGINT NOT NULL, reason TEXT NOT NULL,
     predicted INTEGER NOT NULL, top1 DOUBLE PRECISION NOT NULL, margin DOUBLE PRECISION NOT NULL,
     entropy DOUBLE PRECISION NOT NULL, cloud_predicted INTEGER, codec TEXT NOT NULL, dims TEXT NOT NULL,
     frame_bytes BIGINT NOT NULL, label INTEGER, label_source TEXT, frame TEXT NOT NULL,
     PRIMARY KEY (device_id, id))`,
  `CREATE INDEX IF NOT EXISTS loop_items_model ON loop_items (model, received_at)`,
  `CREATE TABLE IF NOT EXISTS loop_drift (
     device_id TEXT NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, window_start BIGINT NOT NULL,
     window_end BIGINT NOT NULL, summary TEXT NOT NULL, received_at BIGINT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS loop_drift_model ON loop_drift (model, window_end)`,
  `CREATE TABLE IF NOT EXISTS loop_references (
     model TEXT NOT NULL, version TEXT NOT NULL, summary TEXT NOT NULL, updated_at BIGINT NOT NULL,
     PRIMARY KEY (model, version))`,
  // secure aggregation: one row per secure round (its phase and parameters) and per device message
  `CREATE TABLE IF NOT EXISTS fl_secagg_rounds (
     job_id TEXT NOT NULL, round INTEGER NOT NULL, phase TEXT NOT NULL, params TEXT NOT NULL,
     phase_deadline BIGINT NOT NULL, PRIMARY KEY (job_id, round))`,
  `CREATE TABLE IF NOT EXISTS fl_secagg_messages (
     job_id TEXT NOT NULL, round INTEGER NOT NULL, device_id TEXT NOT NULL, phase TEXT NOT NULL,
     body TEXT NOT NULL, bytes BIGINT NOT NULL, received_at BIGINT NOT NULL,
     PRIMARY KEY (job_id, round, device_id, phase))`,
  // one device's telemetry over time (GET /v1/devices/:id/telemetry, the dashboard's device page)
  `CREATE INDEX IF NOT EXISTS telemetry_device ON telemetry (device_id, window_end)`,
  // a model version's optimize report (an SVG artifact), shown by the dashboard
  `CREATE TABLE IF NOT EXISTS model_reports (
     name TEXT NOT NULL, version TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (name, version))`,
  // confidential artifacts (protocol/artifact-crypto.ts): the content key of each encrypted artifact
  // (base64), and each device's X25519 public key the content keys are wrapped to
  `CREATE TABLE IF NOT EXISTS artifact_keys (
     sha256 TEXT PRIMARY KEY, content_key TEXT NOT NULL, created_at BIGINT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS device_encryption_keys (
     device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, created_at BIGINT NOT NULL)`,
  // the loaded memory a publisher measured for an artifact (protocol LoadedMemory, JSON): sent to
  // devices with every variant of that artifact, for their memory budget check
  `CREATE TABLE IF NOT EXISTS artifact_memory (
     sha256 TEXT PRIMARY KEY, loaded TEXT NOT NULL, created_at BIGINT NOT NULL)`,
]);
