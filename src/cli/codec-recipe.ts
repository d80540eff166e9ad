/**
 * The learned codec's measured recipe: the settings with which the codec meets issue 10's target on
 * Fashion-MNIST with each of three seeds (12.25–12.39× smaller than float32 at −0.43 / −0.68 / −0.65 pt
 * on all 10,000 test images, session 11, bench/results/edge-codec-seed{0,1,2}-ep8.json; the history in
 * docs/edge-loop.md). One table, so the defaults of `verge codec train`, of trainAutoencoder /
 * adaptClassifier and of `npm run bench -- edge-codec` cannot drift apart. Imports only
 * src/frozen.ts: the CLI's command table reads it without loading the trainer.
 */
import { deepFreeze } from '../frozen.ts';

export const CODEC_RECIPE = deepFreeze({
  /** Latent values per sample: at 5 bits a frame is ~259 B, 12× smaller than 28×28 float32. */
  latent: 224,
  /** Bits per latent value in the frames (4–8 bits measured equal on Fashion-MNIST, session 6). */
  latentBits: 5,
  /** Filter multiplier of the convolutions: 32 and 64 filters each way (width 1 lost 1.47 pt or more). */
  width: 2,
  /** 8 epochs: at 4 the drop was 0.77 / 1.37 / 1.02 pt over seeds 0 / 1 / 2 (sessions 9–11). */
  epochs: 8,
  batchSize: 64,
  lr: 2e-3,
  /** Task-aware objective: MSE + weight · T² · KL(c(x) ‖ c(x̂)) through the frozen classifier. */
  task: { weight: 0.05, temperature: 2 },
  /**
   * The cloud classifier fine-tuned on the decoded copies of the training samples only (the
   * cloud answers the codec's frames with it, raw inputs with the original model): 2 epochs,
   * Adam 1e-4.
   */
  adapt: { epochs: 2, lr: 1e-4, data: 'decoded' as 'both' | 'decoded' },
});
