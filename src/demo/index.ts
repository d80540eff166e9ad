/** Public API of the demos: the end-to-end quickstart as a library function. */
export {
  runQuickstart,
  QUICKSTART_DEVICES,
  MODEL_NAME,
  MODEL_VERSION,
  DEFAULT_TRAIN_STEPS,
  DEFAULT_TEST_SAMPLES,
  MAX_TEST_SAMPLES,
  DEFAULT_FL_ROUNDS,
  MAX_FL_ROUNDS,
  type QuickstartOptions,
  type QuickstartSummary,
  type QuickstartFleet,
  type DeviceResult,
} from './quickstart.ts';
export type { FederatedSummary } from './federated.ts';
export { silentReporter, type DemoReporter, type DemoProgress } from './reporter.ts';
export { isolationHeadersPresent, runInHeadlessChromium, serveBrowserDemo } from './browser.ts';
