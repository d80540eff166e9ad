/** The quickstart's defaults. Data only: the CLI declares its flags from these without loading the demo. */

/** Optimizer steps of the brief training run: ~20k samples, ~80% test accuracy, ~15-30 s on 2 cores. */
export const DEFAULT_TRAIN_STEPS = 300;
/** Test images sent through each agent. */
export const DEFAULT_TEST_SAMPLES = 500;
/** Most test images the quickstart sends through each agent (one HTTP request each). */
export const MAX_TEST_SAMPLES = 10_000;
