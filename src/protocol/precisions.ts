/** Numeric precisions a device can execute and a variant can be built in. Data only (no zod): the CLI lists them in help. */
export const PRECISIONS = Object.freeze(['fp32', 'fp16', 'bf16', 'int8', 'int4'] as const);
