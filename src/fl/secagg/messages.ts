/**
 * The four message exchanges of secure aggregation (Bonawitz et al. 2017, semi-honest variant),
 * as plain objects: the simulator passes them in memory. Client ids are small positive integers;
 * the sign of a pairwise mask follows their order.
 */
export interface SecAggParams {
  /** Binds keys and ciphertexts to one round of one job, e.g. `job-7/round-3`. */
  context: string;
  /** Shares needed to recover a secret (t); more than half the clients for security. */
  threshold: number;
  /** Fixed-point fraction bits and clipping bound of input values (see fixed-point.ts). */
  bits: number;
  bound: number;
  /** Length of the vector each client contributes. */
  length: number;
}

/** Round 0, client → server → everyone: two public keys (share encryption, mask agreement). */
export interface AdvertiseKeys {
  client: number;
  encryptionKey: Uint8Array;
  maskKey: Uint8Array;
}

/** Round 1, client → server: sealed share bundles, one per other client (server only routes them). */
export interface ShareKeys {
  client: number;
  bundles: Map<number, Uint8Array>;
}

/** Round 2, client → server: the masked input, mod 2³². */
export interface MaskedInput {
  client: number;
  masked: Uint32Array;
}

/** Round 3, client → server: shares of dropped clients' mask keys and of survivors' self-mask seeds. */
export interface UnmaskShares {
  client: number;
  maskKeyShares: Map<number, Uint8Array>;
  seedShares: Map<number, Uint8Array>;
}
