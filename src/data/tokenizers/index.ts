/** Registry of tokenizers: one file per kind (STYLE.md); tokenizers.test.ts checks each has a case. */
import { VergeError } from '../../errors.ts';
import { deepFreeze } from '../../frozen.ts';
import { bpe } from './bpe.ts';
import { char } from './char.ts';
import { ngram } from './ngram.ts';
import type { Tokenizer, TokenizerState } from './tokenizer.ts';
import { word } from './word.ts';

export const TOKENIZERS: readonly Tokenizer[] = deepFreeze([word, char, bpe, ngram]);

export function tokenizer(name: string): Tokenizer {
  const t = TOKENIZERS.find((k) => k.name === name);
  if (!t)
    throw new VergeError(
      'E_BAD_ARGUMENT',
      `unknown tokenizer '${name}' (known: ${TOKENIZERS.map((k) => k.name).join(', ')})`,
    );
  return t;
}

/** An encoder for a saved state (from a model's metadata), checked. */
export function encoderFor(state: TokenizerState): (text: string) => number[] {
  if (!state || !Array.isArray(state.vocab) || state.vocab.length < 3)
    throw new VergeError('E_MODEL_INVALID', "the model's tokenizer has no vocabulary");
  return tokenizer(state.kind).encoder(state);
}

export type { Tokenizer, TokenizerState, TokenizerTrainOptions } from './tokenizer.ts';
export { fitLength, OOV_ID, PAD_ID } from './tokenizer.ts';
