/**
 * The envelope of a Normal log entry's data. Every proposal carries the member id that proposed
 * it and a per-member sequence number, so the proposing node can match the applied entry to the
 * request waiting for it (etcd does the same with request ids: etcdserver/v3_server.go).
 *
 * Layout (bytes): [0] kind, [1..8] origin member id (uint64 BE), [9..16] sequence (uint64 BE),
 * [17..] payload. Empty data (the leader's no-op of its term) carries no envelope. The context of
 * a ConfChange entry is such an envelope too (kind ConfMember), so membership changes resolve the
 * request that proposed them the same way.
 */
import { Packr } from "msgpackr";
import { decodeCommand, encodeCommandView } from "../mvcc/command.ts";
import type { Command } from "../mvcc/types.ts";
import { AssertionError, assert } from "../util/assert.ts";
import { ByteSlab } from "../util/slab.ts";

/** Kind of a proposal. */
export const ProposalKind = {
  /** A key-value command for the MVCC store (payload: mvcc/command.ts encoding). */
  Kv: 1,
  /** A member publishes its name and client URLs (etcd: publish of member attributes). */
  MemberAttributes: 2,
  /** New peer URLs of a member (etcd MemberUpdate; not a Raft configuration change). */
  MemberPeerUrls: 3,
  /** Context of a ConfChange entry: the member it adds, promotes or removes. */
  ConfMember: 4,
} as const;

/** New peer URLs of a member. */
export interface MemberPeerUrls {
  memberId: string;
  peerUrls: string[];
}

/** The member a ConfChange concerns, as the cluster will record it. */
export interface ConfMember {
  id: string;
  /** Name from --initial-cluster for bootstrap members, "" for members added at runtime. */
  name: string;
  peerUrls: string[];
  isLearner: boolean;
}

/** Attributes a member publishes after it starts (etcd membership.Attributes). */
export interface MemberAttributes {
  memberId: string;
  name: string;
  clientUrls: string[];
}

/** A decoded proposal. */
export type Proposal =
  | { kind: typeof ProposalKind.Kv; origin: string; seq: number; command: Command }
  | { kind: typeof ProposalKind.MemberAttributes; origin: string; seq: number; attributes: MemberAttributes }
  | { kind: typeof ProposalKind.MemberPeerUrls; origin: string; seq: number; update: MemberPeerUrls }
  | { kind: typeof ProposalKind.ConfMember; origin: string; seq: number; member: ConfMember };

const HEADER_BYTES = 17;
const packr = new Packr({ useRecords: false });
/** Entry data lives in the Raft log until compaction, and goes in log order: one slab for many. */
const entryBytes = new ByteSlab();

/**
 * Encodes a proposal for a log entry.
 * @param origin proposing member id (16 hex digits)
 * @param seq sequence number, unique per member process, < 2^53
 */
export function encodeProposal(p: Proposal): Uint8Array {
  const payload =
    p.kind === ProposalKind.Kv ? encodeCommandView(p.command) : (packr.pack(payloadOf(p)) as Uint8Array);
  const out = entryBytes.alloc(HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = p.kind;
  view.setBigUint64(1, BigInt(`0x${p.origin}`));
  view.setBigUint64(9, BigInt(p.seq));
  out.set(payload, HEADER_BYTES);
  return out;
}

/**
 * Decodes an entry's data. @throws AssertionError on an unknown kind or a short header: the log
 * holds only what this code wrote, so anything else is corruption.
 */
export function decodeProposal(data: Uint8Array): Proposal {
  assert(data.length >= HEADER_BYTES, "proposal shorter than its header (%s bytes)", data.length);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const origin = view.getBigUint64(1).toString(16).padStart(16, "0");
  const seq = Number(view.getBigUint64(9));
  const payload = data.subarray(HEADER_BYTES);
  if (data[0] === ProposalKind.Kv) {
    return { kind: ProposalKind.Kv, origin, seq, command: decodeCommand(payload) };
  }
  switch (data[0]) {
    case ProposalKind.MemberAttributes:
      return { kind: ProposalKind.MemberAttributes, origin, seq, attributes: packr.unpack(payload) };
    case ProposalKind.MemberPeerUrls:
      return { kind: ProposalKind.MemberPeerUrls, origin, seq, update: packr.unpack(payload) };
    case ProposalKind.ConfMember:
      return { kind: ProposalKind.ConfMember, origin, seq, member: packr.unpack(payload) };
    default:
      throw new AssertionError(`unknown proposal kind ${data[0]}`);
  }
}

function payloadOf(p: Exclude<Proposal, { kind: typeof ProposalKind.Kv }>): unknown {
  switch (p.kind) {
    case ProposalKind.MemberAttributes:
      return p.attributes;
    case ProposalKind.MemberPeerUrls:
      return p.update;
    case ProposalKind.ConfMember:
      return p.member;
  }
}
