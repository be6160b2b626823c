/**
 * The cluster's member table as the replicated state knows it (etcd membership.RaftCluster): ids,
 * peer URLs and learner flags from applied ConfChange entries (the bootstrap members are the first
 * ConfChange entries of the log, as in etcd), peer URL updates from MemberPeerUrls entries, names
 * and client URLs as each member publishes them through Raft once it has started. A member that has
 * not published yet is "unstarted". Removed ids are remembered so that a removed member is refused
 * for good (etcd keeps them in its store too). Changes only by applying log entries or a snapshot,
 * so every member's table is the same at the same applied index.
 */
import { Packr } from "msgpackr";
import { type ConfChange, ConfChangeType } from "../raft/types.ts";
import type { ConfMember, MemberAttributes, MemberPeerUrls } from "./proposal.ts";
import type { MemberInfo } from "./service.ts";

/** One member: static part plus published attributes. */
export interface MemberRecord {
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
  /** True once the member has published its attributes through Raft. */
  started: boolean;
}

const packr = new Packr({ useRecords: false });

/** Deterministic member table. */
export class Membership {
  private readonly members = new Map<string, MemberRecord>();
  private readonly removed = new Set<string>();

  /**
   * Applies a committed ConfChange with the member it names (the entry's context). AddNode of a
   * learner promotes it; RemoveNode forgets the member and remembers its id as removed.
   */
  applyConfChange(cc: ConfChange, member: ConfMember): void {
    const existing = this.members.get(cc.nodeId);
    switch (cc.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearnerNode: {
        const isLearner = cc.type === ConfChangeType.AddLearnerNode && !(existing && !existing.isLearner);
        if (existing) {
          existing.isLearner = isLearner;
          return;
        }
        this.members.set(cc.nodeId, {
          id: cc.nodeId,
          name: member.name,
          peerUrls: [...member.peerUrls],
          clientUrls: [],
          isLearner,
          started: false,
        });
        return;
      }
      case ConfChangeType.RemoveNode:
        this.members.delete(cc.nodeId);
        this.removed.add(cc.nodeId);
        return;
    }
  }

  /** Applies a published attributes entry. Unknown member ids are ignored (removed members). */
  applyAttributes(a: MemberAttributes): void {
    const m = this.members.get(a.memberId);
    if (!m) return;
    m.name = a.name;
    m.clientUrls = [...a.clientUrls];
    m.started = true;
  }

  /** Applies new peer URLs of a member (ignored for an unknown id). */
  applyPeerUrls(u: MemberPeerUrls): void {
    const m = this.members.get(u.memberId);
    if (m) m.peerUrls = [...u.peerUrls];
  }

  get(id: string): MemberRecord | undefined {
    return this.members.get(id);
  }

  /** True when `id` was a member and has been removed. */
  isRemoved(id: string): boolean {
    return this.removed.has(id);
  }

  /** The member using `peerUrl`, if any. */
  byPeerUrl(peerUrl: string): MemberRecord | undefined {
    for (const m of this.members.values()) if (m.peerUrls.includes(peerUrl)) return m;
    return undefined;
  }

  /** Members sorted by id, as `member list` shows them. */
  list(): MemberInfo[] {
    return this.records().map((m) => ({
      id: m.id,
      name: m.started ? m.name : "",
      peerUrls: [...m.peerUrls],
      clientUrls: [...m.clientUrls],
      isLearner: m.isLearner,
      started: m.started,
    }));
  }

  /** Records sorted by id. */
  records(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Peer id → peer URLs of every member but `self` (for the transport). */
  peers(self: string): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const m of this.members.values()) if (m.id !== self) out.set(m.id, [...m.peerUrls]);
    return out;
  }

  /** Serializes the table for a Raft snapshot. */
  snapshot(): Uint8Array {
    return packr.pack({ members: [...this.members.values()], removed: [...this.removed] }) as Uint8Array;
  }

  /** Replaces the table with a snapshot's. */
  restore(data: Uint8Array): void {
    const s = packr.unpack(data) as { members: MemberRecord[]; removed: string[] };
    this.members.clear();
    this.removed.clear();
    for (const m of s.members) this.members.set(m.id, m);
    for (const id of s.removed) this.removed.add(id);
  }
}
