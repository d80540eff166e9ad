/** FedAdagrad (Reddi et al. 2021): v ← v + Δ² (β₂ unused). */
import { FedOpt } from './fedopt.ts';

export class FedAdagrad extends FedOpt {
  override readonly name = 'fedadagrad';
  protected secondMoment(v: number, d2: number): number {
    return v + d2;
  }
}
