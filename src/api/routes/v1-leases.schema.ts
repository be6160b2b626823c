/**
 * zod schemas of the /v1 lease and compaction bodies (the API contract). Strict objects: an
 * unknown or misspelt field (e.g. "TTL") is an error naming it.
 */
import { z } from "zod";

/** A lease id in JSON: 0 ..= 2^53-1 (0 = none / pick one). */
const leaseId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * POST /v1/leases: `{"ttl": seconds, "id"?: wanted id}`. A TTL below the cluster's minimum (etcd's
 * minLeaseTTL) is raised to it; id absent or 0 lets the server pick one.
 */
export const leaseGrantSchema = z.strictObject({
  ttl: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  id: leaseId.optional(),
});

/** POST /v1/compaction: `{"revision": N, "physical"?: bool}` (physical is accepted and has no effect). */
export const compactionSchema = z.strictObject({
  revision: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  physical: z.boolean().optional(),
});
