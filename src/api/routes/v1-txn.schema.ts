/**
 * zod schema of POST /v1/txn bodies (the API contract). Strict objects: an unknown or misspelt
 * field is an error naming its path, not silently ignored.
 */
import { z } from "zod";

const count = z.int().min(0);

/** One comparison: `target` names the operand field that must be present. */
export const compareSchema = z.strictObject({
  key: z.string(),
  range_end: z.string().optional(),
  prefix: z.boolean().optional(),
  target: z.enum(["value", "version", "create_revision", "mod_revision", "lease"]),
  result: z.enum(["=", "!=", "<", ">"]),
  value: z.string().optional(),
  version: count.optional(),
  create_revision: count.optional(),
  mod_revision: count.optional(),
  lease: count.optional(),
});

/** `{"put":{...}}` op: write `value` (UTF-8) at `key`; content_type is checked like PUT /v1/kv. */
export const putOpSchema = z.strictObject({
  key: z.string(),
  value: z.string(),
  lease: count.optional(),
  content_type: z.string().optional(),
  prev_kv: z.boolean().optional(),
});

/** `{"get":{...}}` op: read a key, a prefix or [key, range_end). */
export const getOpSchema = z.strictObject({
  key: z.string(),
  prefix: z.boolean().optional(),
  range_end: z.string().optional(),
  limit: count.optional(),
  keys_only: z.boolean().optional(),
  count_only: z.boolean().optional(),
  rev: count.optional(),
});

/** `{"delete":{...}}` op: delete a key, a prefix or [key, range_end). */
export const deleteOpSchema = z.strictObject({
  key: z.string(),
  prefix: z.boolean().optional(),
  range_end: z.string().optional(),
  prev_kv: z.boolean().optional(),
});

/** An op holds exactly one of put, get, delete. */
export const opSchema = z
  .strictObject({
    put: putOpSchema.optional(),
    get: getOpSchema.optional(),
    delete: deleteOpSchema.optional(),
  })
  .refine((op) => [op.put, op.get, op.delete].filter((x) => x !== undefined).length === 1, {
    message: "an op must hold exactly one of put, get, delete",
  });

/** The whole body: compares AND-ed; success runs when all hold, else failure. Lists default to []. */
export const txnSchema = z.strictObject({
  compare: z.array(compareSchema).default([]),
  success: z.array(opSchema).default([]),
  failure: z.array(opSchema).default([]),
});

/** A parsed compare. */
export type CompareJson = z.infer<typeof compareSchema>;
/** A parsed op. */
export type OpJson = z.infer<typeof opSchema>;
/** A parsed txn body. */
export type TxnJson = z.infer<typeof txnSchema>;
