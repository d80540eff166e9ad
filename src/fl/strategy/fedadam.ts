/** FedAdam (Reddi et al. 2021): v ← β₂·v + (1−β₂)·Δ². */
import { FedOpt } from './fedopt.ts';

export class FedAdam extends FedOpt {
  override readonly name = 'fedadam';
  protected secondMoment(v: number, d2: number): number {
    return this.beta2 * v + (1 - this.beta2) * d2;
  }
}
