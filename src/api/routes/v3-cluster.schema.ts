/**
 * zod schemas of etcd's JSON gateway bodies for the Cluster service and
 * Maintenance.MoveLeader (etcd api/etcdserverpb/rpc.proto: MemberAddRequest, MemberRemoveRequest,
 * MemberUpdateRequest, MemberListRequest, MemberPromoteRequest, MoveLeaderRequest), read as
 * etcd 3.4's grpc-gateway (golang/protobuf jsonpb) reads them: absent fields are protobuf
 * defaults, unknown fields are ignored, uint64 ids are decimal strings (or JSON numbers).
 * Ids come out as Cairn's 16 lowercase hex digits; peer URLs are checked by the codec
 * (codec/v3-cluster.ts) so the error carries etcd's message.
 */
import { z } from "zod";
import { decimalIdToHex } from "../codec/v3-cluster.ts";

/** uint64 member id: decimal string or a JSON number (exact only up to 2^53) → 16 hex digits. */
const memberId = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const hex = decimalIdToHex(v);
  if (hex === undefined) {
    ctx.issues.push({
      code: "custom",
      message:
        typeof v === "number"
          ? "expected a uint64 member id; ids above 2^53 must be sent as a decimal string"
          : "expected a uint64 member id as a decimal string",
      input: v,
    });
    return z.NEVER;
  }
  return hex;
});

/** etcdserverpb.MemberAddRequest {peerURLs, isLearner}. */
export const memberAddV3Schema = z.object({
  peerURLs: z.array(z.string()).optional(),
  isLearner: z.boolean().optional(),
});

/** etcdserverpb.MemberRemoveRequest / MemberPromoteRequest {ID}. */
export const memberIdV3Schema = z.object({ ID: memberId.optional() });

/** etcdserverpb.MemberUpdateRequest {ID, peerURLs}. */
export const memberUpdateV3Schema = z.object({
  ID: memberId.optional(),
  peerURLs: z.array(z.string()).optional(),
});

/** etcdserverpb.MoveLeaderRequest {targetID}. */
export const moveLeaderV3Schema = z.object({ targetID: memberId.optional() });
