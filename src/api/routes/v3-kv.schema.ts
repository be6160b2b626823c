/**
 * zod schemas of etcd's JSON gateway bodies (/v3/kv/*), following protobuf's JSON mapping as
 * etcd 3.4's grpc-gateway (golang/protobuf jsonpb) reads it: snake_case field names (OrigName),
 * bytes as base64, int64 as a decimal string or a number, enums by name or number, absent
 * fields = protobuf defaults, unknown fields ignored. Sources: etcd api/etcdserverpb/rpc.proto.
 */
import { z } from "zod";
import type { CompareResult, CompareTarget, SortOrder, SortTarget } from "../../mvcc/types.ts";
import { fromBase64, fromBase64View } from "../bytes.ts";

/** bytes field: base64 text → fresh Uint8Array. */
export const bytes = z.string().transform((text, ctx) => {
  const out = fromBase64(text);
  if (out === undefined) {
    ctx.issues.push({ code: "custom", message: "expected base64-encoded bytes", input: text });
    return z.NEVER;
  }
  return out;
});

/** int64 field (non-negative here: revisions, limits, versions, lease ids): number or decimal string. */
export const int64 = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    ctx.issues.push({
      code: "custom",
      message: "expected a non-negative integer (a number or a decimal string)",
      input: v,
    });
    return z.NEVER;
  }
  return n;
});

/** Protobuf enum: its value name or its number. `names[i]` is the name of number i. */
export function protoEnum<T extends string>(names: readonly T[]) {
  return z.union([z.string(), z.number()]).transform((v, ctx): T => {
    const name =
      typeof v === "number" ? names[v] : (names as readonly string[]).includes(v) ? (v as T) : undefined;
    if (name === undefined) {
      ctx.issues.push({ code: "custom", message: `expected one of ${names.join("|")}`, input: v });
      return z.NEVER;
    }
    return name;
  });
}

const SORT_ORDERS: readonly SortOrder[] = ["NONE", "ASCEND", "DESCEND"];
const SORT_TARGETS: readonly SortTarget[] = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"];
const COMPARE_RESULTS: readonly CompareResult[] = ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"];
const COMPARE_TARGETS: readonly CompareTarget[] = ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"];

/** etcdserverpb.RangeRequest. */
export const rangeSchema = z.object({
  key: bytes.optional(),
  range_end: bytes.optional(),
  limit: int64.optional(),
  revision: int64.optional(),
  sort_order: protoEnum(SORT_ORDERS).optional(),
  sort_target: protoEnum(SORT_TARGETS).optional(),
  serializable: z.boolean().optional(),
  keys_only: z.boolean().optional(),
  count_only: z.boolean().optional(),
  min_mod_revision: int64.optional(),
  max_mod_revision: int64.optional(),
  min_create_revision: int64.optional(),
  max_create_revision: int64.optional(),
});

/** etcdserverpb.PutRequest. */
export const putSchema = z.object({
  key: bytes.optional(),
  value: bytes.optional(),
  lease: int64.optional(),
  prev_kv: z.boolean().optional(),
  ignore_value: z.boolean().optional(),
  ignore_lease: z.boolean().optional(),
});

const DECIMAL_RE = /^[0-9]+$/;

/** int64 fast path: the value {@link int64} gives, or undefined where it would report an issue. */
function int64Value(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && DECIMAL_RE.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Byte fields of a put body (base64 on the wire). */
const PUT_BYTES_FIELDS = ["key", "value"] as const;

/** Boolean fields of a put body (read alike by {@link parsePut}). */
const PUT_BOOLEAN_FIELDS = ["prev_kv", "ignore_value", "ignore_lease"] as const;

/**
 * Every field {@link parsePut} reads itself; it must be every field of {@link putSchema} (a test
 * checks), or the fast path would drop a field the schema knows.
 */
export const PUT_FAST_PATH_FIELDS: readonly string[] = [...PUT_BYTES_FIELDS, "lease", ...PUT_BOOLEAN_FIELDS];

/**
 * {@link putSchema}`.parse(raw)` without zod on the hot path: a hand-written check of the common
 * well-formed body that builds the same output (only the fields present, bytes decoded by
 * fromBase64View: the put is encoded into a log entry at once and its request not kept; int64 as
 * a number, unknown fields dropped). Anything it does not accept goes to
 * putSchema.parse, so errors (and any input zod accepts that this does not) are zod's own.
 * @throws z.ZodError as putSchema.parse
 */
export function parsePut(raw: unknown): PutWire {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return putSchema.parse(raw);
  const o = raw as Record<string, unknown>;
  const out: PutWire = {};
  for (const field of PUT_BYTES_FIELDS) {
    const text = o[field];
    if (text === undefined) continue;
    const bytes = typeof text === "string" ? fromBase64View(text) : undefined;
    if (bytes === undefined) return putSchema.parse(raw);
    out[field] = bytes;
  }
  const lease = o.lease;
  if (lease !== undefined) {
    const n = int64Value(lease);
    if (n === undefined) return putSchema.parse(raw);
    out.lease = n;
  }
  for (const field of PUT_BOOLEAN_FIELDS) {
    const flag = o[field];
    if (flag === undefined) continue;
    if (typeof flag !== "boolean") return putSchema.parse(raw);
    out[field] = flag;
  }
  return out;
}

/** etcdserverpb.DeleteRangeRequest. */
export const deleteRangeSchema = z.object({
  key: bytes.optional(),
  range_end: bytes.optional(),
  prev_kv: z.boolean().optional(),
});

/** etcdserverpb.Compare (target_union: version, create_revision, mod_revision, value, lease). */
export const compareSchema = z.object({
  result: protoEnum(COMPARE_RESULTS).optional(),
  target: protoEnum(COMPARE_TARGETS).optional(),
  key: bytes.optional(),
  version: int64.optional(),
  create_revision: int64.optional(),
  mod_revision: int64.optional(),
  value: bytes.optional(),
  lease: int64.optional(),
  range_end: bytes.optional(),
});

/** Parsed Range JSON (bytes decoded, int64 as numbers, enums as names). */
export type RangeWire = z.output<typeof rangeSchema>;
/** Parsed Put JSON (bytes decoded, int64 as numbers, enums as names). */
export type PutWire = z.output<typeof putSchema>;
/** Parsed DeleteRange JSON (bytes decoded, int64 as numbers, enums as names). */
export type DeleteRangeWire = z.output<typeof deleteRangeSchema>;
/** Parsed Compare JSON (bytes decoded, int64 as numbers, enums as names). */
export type CompareWire = z.output<typeof compareSchema>;

/** etcdserverpb.RequestOp: a oneof (at most one field set). */
export interface RequestOpWire {
  request_range?: RangeWire;
  request_put?: PutWire;
  request_delete_range?: DeleteRangeWire;
  request_txn?: TxnWire;
}

/** etcdserverpb.TxnRequest. */
export interface TxnWire {
  compare?: CompareWire[];
  success?: RequestOpWire[];
  failure?: RequestOpWire[];
}

const requestOpSchema: z.ZodType<RequestOpWire> = z.lazy(() =>
  z
    .object({
      request_range: rangeSchema.optional(),
      request_put: putSchema.optional(),
      request_delete_range: deleteRangeSchema.optional(),
      request_txn: txnSchema.optional(),
    })
    .refine(
      (op) =>
        [op.request_range, op.request_put, op.request_delete_range, op.request_txn].filter(
          (x) => x !== undefined,
        ).length <= 1,
      {
        message:
          "a request op sets at most one of request_range, request_put, request_delete_range, request_txn",
      },
    ),
);

/** etcdserverpb.TxnRequest (ops may nest txns). */
export const txnSchema: z.ZodType<TxnWire> = z.lazy(() =>
  z.object({
    compare: z.array(compareSchema).optional(),
    success: z.array(requestOpSchema).optional(),
    failure: z.array(requestOpSchema).optional(),
  }),
);

/** etcdserverpb.CompactionRequest. */
export const compactionSchema = z.object({
  revision: int64.optional(),
  physical: z.boolean().optional(),
});
