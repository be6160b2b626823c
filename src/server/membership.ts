/**
 * The cluster's member list as the replicated state knows it: ids, names and peer URLs from
 * the bootstrap configuration (--initial-cluster), client URLs as each member publishes them
 * through Raft once it has started (etcd: membership.RaftCluster + publish). A member that has
 * not published yet is "unstarted" (etcdctl member list shows it so).
 */
import { Packr } from "msgpackr";
import type { MemberAttributes } from "./proposal.ts";
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

/** Deterministic member table; changes only by applying log entries or a snapshot. */
export class Membership {
  private readonly members = new Map<string, MemberRecord>();

  /** @param initial members from --initial-cluster, with ids derived as in server/ids.ts */
  constructor(initial: { id: string; name: string; peerUrls: string[] }[]) {
    for (const m of initial) {
      this.members.set(m.id, { ...m, clientUrls: [], isLearner: false, started: false });
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

  get(id: string): MemberRecord | undefined {
    return this.members.get(id);
  }

  /** Members sorted by id, as `member list` shows them. */
  list(): MemberInfo[] {
    return [...this.members.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((m) => ({
        id: m.id,
        name: m.started ? m.name : "",
        peerUrls: [...m.peerUrls],
        clientUrls: [...m.clientUrls],
        isLearner: m.isLearner,
      }));
  }

  /** Voter ids (for Raft's bootstrap ConfState). */
  voterIds(): string[] {
    return [...this.members.values()].filter((m) => !m.isLearner).map((m) => m.id);
  }

  /** Serializes the table for a Raft snapshot. */
  snapshot(): Uint8Array {
    return packr.pack([...this.members.values()]) as Uint8Array;
  }

  /** Replaces the table with a snapshot's. */
  restore(data: Uint8Array): void {
    this.members.clear();
    for (const m of packr.unpack(data) as MemberRecord[]) this.members.set(m.id, m);
  }
}
