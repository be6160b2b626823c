/**
 * zod schemas of etcd's JSON gateway Lease bodies (etcd api/etcdserverpb/rpc.proto
 * LeaseGrantRequest, LeaseRevokeRequest, LeaseKeepAliveRequest, LeaseTimeToLiveRequest,
 * LeaseLeasesRequest), read as etcd 3.4's jsonpb reads them: the proto names "ID", "TTL", "keys";
 * int64 as a number or a decimal string; absent = 0; unknown fields ignored (so "ttl" in lower
 * case is ignored, as by etcd). Cairn lease ids are 0 ..= 2^53-1: a negative or larger ID is
 * refused (etcd accepts any int64).
 */
import { z } from "zod";
import { int64 } from "./v3-kv.schema.ts";

/** A signed int64 (a TTL may be given negative; it is raised to the minimum, as etcd does). */
export const sint64 = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : /^-?[0-9]+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    ctx.issues.push({
      code: "custom",
      message: "expected an integer (a number or a decimal string)",
      input: v,
    });
    return z.NEVER;
  }
  return n;
});

/** LeaseGrantRequest: {"TTL": seconds, "ID": 0 (pick one) or the id wanted}. */
export const leaseGrantSchema = z.object({ TTL: sint64.optional(), ID: int64.optional() });

/** LeaseRevokeRequest and LeaseKeepAliveRequest: {"ID"}. */
export const leaseIdSchema = z.object({ ID: int64.optional() });

/** LeaseTimeToLiveRequest: {"ID", "keys": also list the attached keys}. */
export const leaseTimeToLiveSchema = z.object({ ID: int64.optional(), keys: z.boolean().optional() });

/** LeaseLeasesRequest: no field. */
export const leaseLeasesSchema = z.object({});
