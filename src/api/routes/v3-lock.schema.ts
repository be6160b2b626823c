/**
 * zod schemas of etcd's JSON gateway bodies of the Lock and Election services (etcd
 * api/v3lock/v3lockpb/v3lock.proto LockRequest, UnlockRequest; api/v3election/v3electionpb/
 * v3election.proto CampaignRequest, ProclaimRequest, LeaderRequest, ResignRequest, LeaderKey),
 * read as etcd 3.4's jsonpb reads them: snake_case names, bytes as base64, int64 as a number or a
 * decimal string, absent = default, unknown fields ignored. Cairn lease ids are 0 ..= 2^53-1.
 * Also the grpc-gateway `Grpc-Timeout` header, the deadline of a lock or campaign.
 */
import { z } from "zod";
import { invalidArgument } from "../../util/errors.ts";
import { DEFAULT_LOCK_WAIT_MS, MAX_LOCK_WAIT_MS } from "../../util/limits.ts";
import { bytes, int64 } from "./v3-kv.schema.ts";

/** LockRequest: {"name": base64, "lease": id (0: a new 60 s lease, as etcd's v3lock)}. */
export const lockSchema = z.object({ name: bytes.optional(), lease: int64.optional() });

/** UnlockRequest: {"key": base64}. */
export const unlockSchema = z.object({ key: bytes.optional() });

/** v3electionpb.LeaderKey: {"name","key" (base64), "rev","lease" (int64)}. */
export const leaderKeySchema = z.object({
  name: bytes.optional(),
  key: bytes.optional(),
  rev: int64.optional(),
  lease: int64.optional(),
});

/** CampaignRequest: {"name","lease","value"}. */
export const campaignSchema = z.object({
  name: bytes.optional(),
  lease: int64.optional(),
  value: bytes.optional(),
});

/** ProclaimRequest: {"leader": LeaderKey, "value"}. */
export const proclaimSchema = z.object({ leader: leaderKeySchema.optional(), value: bytes.optional() });

/** LeaderRequest (leader, observe): {"name"}. */
export const leaderRequestSchema = z.object({ name: bytes.optional() });

/** ResignRequest: {"leader": LeaderKey}. */
export const resignSchema = z.object({ leader: leaderKeySchema.optional() });

/** Parsed LeaderKey JSON. */
export type LeaderKeyWire = z.output<typeof leaderKeySchema>;

const GRPC_TIMEOUT_UNIT_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * The wait of a lock or campaign from grpc-gateway's `Grpc-Timeout` header ("<digits><unit>",
 * unit H, M, S, m, u or n, as gRPC's timeout format): DEFAULT_LOCK_WAIT_MS when absent, at most
 * MAX_LOCK_WAIT_MS, at least 1 ms.
 * @throws CairnError "invalid_argument" for a malformed header (etcd's gateway answers 400 too)
 */
export function grpcTimeoutMs(header: string | undefined): number {
  if (header === undefined || header.trim() === "") return DEFAULT_LOCK_WAIT_MS;
  const m = /^([0-9]{1,8})([HMSmun])$/.exec(header.trim());
  if (!m) throw invalidArgument(`invalid grpc-timeout: ${header}`);
  const ms = Number(m[1]) * GRPC_TIMEOUT_UNIT_MS[m[2]!]!;
  return Math.min(MAX_LOCK_WAIT_MS, Math.max(1, Math.ceil(ms)));
}
