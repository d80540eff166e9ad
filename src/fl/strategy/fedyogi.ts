/** FedYogi (Reddi et al. 2021): v ← v − (1−β₂)·Δ²·sign(v − Δ²); v grows additively, never jumps. */
import { FedOpt } from './fedopt.ts';

export class FedYogi extends FedOpt {
  override readonly name = 'fedyogi';
  protected secondMoment(v: number, d2: number): number {
    return v - (1 - this.beta2) * d2 * Math.sign(v - d2);
  }
}
