/**
 * Stable train/test assignment by hashing a key (a file's path inside the dataset, a package
 * name): the same item always lands in the same split, whatever else is added or removed, so a
 * grown dataset never leaks old test items into training. Pure; browser-safe.
 */

/** FNV-1a, 32-bit, over the UTF-16 code units of `s`. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Whether `key` belongs to the test split holding `fraction` of all keys. */
export function inTestSplit(key: string, fraction: number): boolean {
  // The top bits of FNV-1a mix better than the low ones for short, similar keys.
  return fnv1a(key) / 2 ** 32 < fraction;
}
