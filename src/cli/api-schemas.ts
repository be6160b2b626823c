/**
 * Shapes of the /v1 API answers the CLI reads (the Cairn client API contract: snake_case,
 * etcd's field names). Validated with zod so that a wrong answer fails with a clear message
 * instead of printing garbage. Objects are loose: unknown fields are kept and printed by -w json.
 */
import { z } from "zod";

/** KV JSON: value is UTF-8 text unless value_encoding is "base64". keys_only omits value. */
export const KvSchema = z.looseObject({
  key: z.string(),
  value: z.string().optional(),
  value_encoding: z.literal("base64").optional(),
  content_type: z.string().optional(),
  create_revision: z.number(),
  mod_revision: z.number(),
  version: z.number(),
  lease: z.number().optional(),
});
export type KvJson = z.infer<typeof KvSchema>;

/** GET /v1/kv/{prefix}?prefix=true (and the CLI's normalized single-key result). */
export const RangeSchema = z.looseObject({
  revision: z.number().optional(),
  kvs: z.array(KvSchema),
  more: z.boolean().optional(),
  count: z.number().optional(),
});
export type RangeJson = z.infer<typeof RangeSchema>;

/** GET /v1/kv/{key}?meta=true. */
export const MetaSchema = z.looseObject({ revision: z.number(), kv: KvSchema });

/** PUT /v1/kv/{key}. */
export const PutSchema = z.looseObject({ revision: z.number(), prev_kv: KvSchema.optional() });
export type PutJson = z.infer<typeof PutSchema>;

/** DELETE /v1/kv/{key}. */
export const DeleteSchema = z.looseObject({
  revision: z.number(),
  deleted: z.number(),
  prev_kvs: z.array(KvSchema).optional(),
});
export type DeleteJson = z.infer<typeof DeleteSchema>;

/** One response of POST /v1/txn: exactly one of put, get, delete is present. */
export const TxnResponseOpSchema = z
  .looseObject({
    put: z.looseObject({ revision: z.number().optional(), prev_kv: KvSchema.optional() }).optional(),
    get: z
      .looseObject({ kvs: z.array(KvSchema), more: z.boolean().optional(), count: z.number().optional() })
      .optional(),
    delete: z.looseObject({ deleted: z.number(), prev_kvs: z.array(KvSchema).optional() }).optional(),
  })
  .refine((r) => [r.put, r.get, r.delete].filter((x) => x !== undefined).length === 1, {
    message: "expected exactly one of put, get, delete",
  });
export type TxnResponseOpJson = z.infer<typeof TxnResponseOpSchema>;

/** POST /v1/txn. */
export const TxnSchema = z.looseObject({
  revision: z.number(),
  succeeded: z.boolean(),
  responses: z.array(TxnResponseOpSchema),
});
export type TxnJson = z.infer<typeof TxnSchema>;

/**
 * One member of GET /v1/cluster/members. `started` is false until the member has started and
 * published its name and client URLs (servers before it was added leave it out).
 */
export const MemberSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  peer_urls: z.array(z.string()),
  client_urls: z.array(z.string()),
  is_learner: z.boolean(),
  started: z.boolean().optional(),
});
export type MemberJson = z.infer<typeof MemberSchema>;

/**
 * GET /v1/cluster/members, and the answer of every membership change (POST, PUT, DELETE
 * /v1/cluster/members..., which add `member`: the member added).
 */
export const MembersSchema = z.looseObject({
  cluster_id: z.string(),
  member: MemberSchema.optional(),
  members: z.array(MemberSchema),
});
export type MembersJson = z.infer<typeof MembersSchema>;

/** POST /v1/cluster/move-leader: the new leader and the member that led before. */
export const MoveLeaderSchema = z.looseObject({ leader: z.string(), previous_leader: z.string() });
export type MoveLeaderJson = z.infer<typeof MoveLeaderSchema>;

/** GET /v1/status. */
export const StatusSchema = z.looseObject({
  cluster_id: z.string(),
  member_id: z.string(),
  name: z.string(),
  version: z.string(),
  leader: z.string(),
  is_leader: z.boolean(),
  is_learner: z.boolean(),
  raft_term: z.number(),
  raft_index: z.number(),
  commit_index: z.number(),
  applied_index: z.number(),
  revision: z.number(),
  compact_revision: z.number(),
  db_size: z.number(),
  errors: z.array(z.string()),
});
export type StatusJson = z.infer<typeof StatusSchema>;

/** GET /health (etcd's shape: "true"/"false" as strings). */
export const HealthSchema = z.looseObject({ health: z.string(), reason: z.string().optional() });

/**
 * Parses an answer body as JSON with `schema`.
 * @throws Error naming the request when the body is not JSON or does not fit the contract
 */
export function parseAnswer<T extends z.ZodType>(schema: T, body: Uint8Array, what: string): z.infer<T> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString("utf8"));
  } catch {
    throw new Error(`unexpected answer to ${what}: not JSON`);
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid";
    throw new Error(`unexpected answer to ${what}: ${where}`);
  }
  return result.data;
}
