import { describe, expect, it } from 'vitest';
import { encoderFor, fitLength, OOV_ID, PAD_ID, TOKENIZERS, tokenizer } from './index.ts';
import type { TokenizerState } from './tokenizer.ts';
import { inverseDocumentFrequencies } from '../text-dataset.ts';

const TEXTS = [
  'The lowest price, the LOWER cost!',
  'low low low lower lowest newest widest',
  'Newer and wider: the newest, widest road.',
];

/** Each tokenizer's behaviour, checked on trained states that went through JSON (as in a model). */
const CASES: Record<string, (state: TokenizerState, encode: (t: string) => number[]) => void> = {
  word: (state, encode) => {
    expect(state.vocab.slice(0, 3)).toEqual(['<pad>', '<unk>', 'low']); // 'low' is the most frequent word
    expect(encode('LOW, low!')).toEqual([2, 2]);
    expect(encode('lowish')).toEqual([OOV_ID]);
  },
  char: (state, encode) => {
    expect(state.vocab).toContain(' ');
    expect(encode('a  \n d').map((i) => state.vocab[i])).toEqual(['a', ' ', 'd']);
    expect(encode('ж')).toEqual([OOV_ID]);
  },
  ngram: (state, encode) => {
    const tokens = (t: string) => encode(t).map((i) => state.vocab[i]);
    // words in order, each known pair right after its second word; unknown pair left out
    expect(tokens('Low LOWER cost')).toEqual(['low', 'lower', 'low lower', 'cost', 'lower cost']);
    expect(tokens('lowish low newest')).toEqual(['<unk>', 'low', 'newest']);
  },
  bpe: (state, encode) => {
    expect(state.merges!.length).toBeGreaterThan(5);
    const pieces = (t: string) => encode(t).map((i) => state.vocab[i]);
    expect(pieces('lowest')).toEqual(['▁lowest']);
    // an unseen word is spelled with learned subwords, never <unk> when its letters were seen
    const unseen = pieces('widowest');
    expect(unseen.join('')).toBe('▁widowest');
    expect(unseen.length).toBeLessThan(7);
    expect(encode('widowest')).not.toContain(OOV_ID);
  },
};

describe('tokenizers', () => {
  it('every registered tokenizer has a case', () => {
    expect(TOKENIZERS.map((t) => t.name).filter((n) => !(n in CASES))).toEqual([]);
  });

  for (const t of TOKENIZERS) {
    it(`${t.name}: trains deterministically, survives JSON, honours the vocabulary size`, () => {
      const state = JSON.parse(JSON.stringify(t.train(TEXTS, { vocabSize: 40 }))) as TokenizerState;
      expect(t.train(TEXTS, { vocabSize: 40 })).toEqual(state);
      expect(state.vocab.length).toBeLessThanOrEqual(40);
      expect(new Set(state.vocab).size).toBe(state.vocab.length);
      CASES[t.name]!(state, encoderFor(state));
    });
  }

  it('pads at the start, truncates at the end, and rejects bad sizes and kinds', () => {
    const out = new BigInt64Array(5);
    fitLength([7, 8], 5, out);
    expect(Array.from(out)).toEqual([0n, 0n, 0n, 7n, 8n].map((v) => (v === 0n ? BigInt(PAD_ID) : v)));
    const f = new Float32Array(2);
    fitLength([7, 8, 9], 2, f);
    expect(Array.from(f)).toEqual([7, 8]);
    expect(() => tokenizer('word').train(TEXTS, { vocabSize: 2 })).toThrow(/vocabulary size/);
    expect(() => tokenizer('sentencepiece')).toThrow(
      /unknown tokenizer 'sentencepiece' \(known: word, char, bpe, ngram\)/,
    );
  });

  it('inverse document frequencies: scikit-learn smooth idf per id, counted once per text, padding 0', () => {
    // three texts of length 4 (padded at the start): id 2 in all three (twice in one), id 3 in one, id 4 in none
    const x = Float32Array.from([0, 0, 2, 2, 0, 2, 3, 1, 2, 1, 1, 1]);
    const idf = inverseDocumentFrequencies({ x, y: new Int32Array(3), count: 3 }, 5);
    const want = [0, Math.log(4 / 3) + 1, Math.log(4 / 4) + 1, Math.log(4 / 2) + 1, Math.log(4 / 1) + 1];
    idf.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
  });
});
