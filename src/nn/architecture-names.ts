/**
 * Names of the built-in architectures (`verge train --arch`). Data only: the CLI lists them in its
 * help without building a network. `architectures.ts` maps each name to its builder; a test
 * checks both lists agree.
 */
export const ARCHITECTURE_NAMES = Object.freeze([
  'cnn',
  'mlp',
  'mobilenet-tiny',
  'gru',
  'text-gru',
  'text-lstm',
  'text-cnn',
  'text-bow',
  'kws-cnn',
  'kws-dscnn',
] as const);
