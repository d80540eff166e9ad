/**
 * Subword tokenizer: byte-pair encoding (Sennrich et al. 2016) learned on the training words.
 * Words start with '▁' (so "low" and "slow" share "low" but not "▁low"); merges of the most
 * frequent adjacent symbol pair are learned until the vocabulary is full. Pair counts are
 * updated incrementally (only words holding the merged pair are revisited) and the best pair
 * comes from a heap with lazy deletion, so training on ~40k texts takes seconds.
 */
import {
  normalize,
  OOV_ID,
  vocabFromCounts,
  vocabIndex,
  words,
  type Tokenizer,
  type TokenizerState,
} from './tokenizer.ts';

const WORD_START = '▁';
/** Symbol ids stay below 2^21, so a pair (a, b) packs into one safe integer key. */
const PAIR_SHIFT = 2 ** 21;
/** Words whose encodings an encoder remembers. */
const ENCODER_CACHE = 100_000;

function wordSymbols(w: string): string[] {
  const cs = [...w];
  cs[0] = WORD_START + cs[0];
  return cs;
}

/** A max-heap of [count, key] with lazy deletion (stale entries are skipped when popped). */
class PairHeap {
  private readonly items: [number, number][] = [];
  push(count: number, key: number): void {
    const a = this.items;
    a.push([count, key]);
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): [number, number] | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.before(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
  /** Higher count first; ties broken by the smaller key (deterministic training). */
  private before(x: [number, number], y: [number, number]): boolean {
    return x[0] > y[0] || (x[0] === y[0] && x[1] < y[1]);
  }
}

interface Word {
  syms: number[];
  count: number;
}

function learnMerges(wordCounts: Map<string, number>, vocabSize: number): { vocab: string[]; merges: string[] } {
  // Base symbols: every character seen (▁-prefixed at word starts), most frequent first, at most half the vocabulary.
  const symCounts = new Map<string, number>();
  for (const [w, c] of wordCounts) for (const s of wordSymbols(w)) symCounts.set(s, (symCounts.get(s) ?? 0) + c);
  const base = vocabFromCounts(symCounts, Math.max(3, Math.min(vocabSize, Math.floor(vocabSize / 2) + 2)));
  const vocab = [...base];
  const id = vocabIndex(vocab);
  const list: Word[] = [...wordCounts.entries()].map(([w, count]) => ({
    syms: wordSymbols(w).map((s) => id.get(s) ?? OOV_ID),
    count,
  }));
  const counts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const heap = new PairHeap();
  const add = (wi: number, sign: 1 | -1, touched: Set<number>): void => {
    const w = list[wi]!;
    for (let i = 0; i + 1 < w.syms.length; i++) {
      const a = w.syms[i]!;
      const b = w.syms[i + 1]!;
      if (a === OOV_ID || b === OOV_ID) continue;
      const key = a * PAIR_SHIFT + b;
      counts.set(key, (counts.get(key) ?? 0) + sign * w.count);
      if (sign > 0) {
        let s = where.get(key);
        if (!s) where.set(key, (s = new Set()));
        s.add(wi);
      }
      touched.add(key);
    }
  };
  const initial = new Set<number>();
  list.forEach((_, wi) => add(wi, 1, initial));
  for (const k of initial) heap.push(counts.get(k)!, k);
  const merges: string[] = [];
  while (vocab.length < vocabSize) {
    const top = heap.pop();
    if (!top) break;
    const [count, key] = top;
    if (counts.get(key) !== count) continue; // stale entry
    if (count < 2) break; // a pair seen once generalizes to nothing
    const a = Math.floor(key / PAIR_SHIFT);
    const b = key % PAIR_SHIFT;
    const c = vocab.length;
    vocab.push(vocab[a]! + vocab[b]!);
    merges.push(`${vocab[a]} ${vocab[b]}`);
    const touched = new Set<number>();
    for (const wi of where.get(key) ?? []) {
      add(wi, -1, touched);
      const w = list[wi]!;
      const out: number[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(c);
          i++;
        } else out.push(w.syms[i]!);
      }
      w.syms = out;
      add(wi, 1, touched);
    }
    where.delete(key);
    counts.delete(key);
    for (const k of touched) {
      const n = counts.get(k);
      if (n !== undefined && n > 0) heap.push(n, k);
      else counts.delete(k);
    }
  }
  return { vocab, merges };
}

/** Apply merges to one word: repeatedly merge the adjacent pair of best (lowest) rank. */
function encodeWord(w: string, rank: Map<string, number>, index: Map<string, number>): number[] {
  let syms = wordSymbols(w);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < syms.length; i++) {
      const r = rank.get(`${syms[i]} ${syms[i + 1]}`);
      if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
    }
    if (best < 0) break;
    syms = [...syms.slice(0, best), syms[best]! + syms[best + 1]!, ...syms.slice(best + 2)];
  }
  return syms.map((s) => index.get(s) ?? OOV_ID);
}

export const bpe: Tokenizer = {
  name: 'bpe',
  summary: 'subwords by byte-pair encoding learned on the training words (words start with ▁)',
  defaultVocabSize: 8_000,
  train(texts, opts): TokenizerState {
    const lowercase = opts.lowercase ?? true;
    const wordCounts = new Map<string, number>();
    for (const t of texts)
      for (const w of words(normalize(t, lowercase))) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    vocabFromCounts(new Map(), opts.vocabSize); // validates the size
    const { vocab, merges } = learnMerges(wordCounts, opts.vocabSize);
    return { kind: 'bpe', lowercase, vocab, merges };
  },
  encoder(state) {
    const rank = new Map((state.merges ?? []).map((m, i) => [m, i]));
    const index = vocabIndex(state.vocab);
    const cache = new Map<string, number[]>();
    return (text) =>
      words(normalize(text, state.lowercase)).flatMap((w) => {
        let ids = cache.get(w);
        if (!ids) {
          ids = encodeWord(w, rank, index);
          if (cache.size < ENCODER_CACHE) cache.set(w, ids);
        }
        return ids;
      });
  },
};
