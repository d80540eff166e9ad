/** numpy.matmul output shapes, shared by MatMul, MatMulInteger and QLinearMatMul. */
import type { Dim } from '../ir.ts';
import { broadcast, unify } from './dims.ts';

export function matmulShape(a: Dim[] | undefined, b: Dim[] | undefined): Dim[] | undefined {
  if (!a || !b || a.length === 0 || b.length === 0) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcast([a2.slice(0, -2), b2.slice(0, -2)]);
  if (!batch) return undefined;
  // the contracted dims must agree; nothing of them is in the output
  unify(a2[a2.length - 1], b2[b2.length - 2]);
  const out = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}
