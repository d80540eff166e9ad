/** The quickstart's defaults. Data only: the CLI declares its flags from these without loading the demo. */

/** Optimizer steps of the brief training run: ~20k samples, ~80% test accuracy, ~15-30 s on 2 cores. */
export const DEFAULT_TRAIN_STEPS = 300;
/** Test images sent through each agent. */
export const DEFAULT_TEST_SAMPLES = 500;
/** Most test images the quickstart sends through each agent (one HTTP request each). */
export const MAX_TEST_SAMPLES = 10_000;
/** FedAvg rounds of the quickstart's federated round trip (0 skips it). */
export const DEFAULT_FL_ROUNDS = 3;
/** Most rounds the quickstart runs (it must stay a quick demonstration). */
export const MAX_FL_ROUNDS = 20;
