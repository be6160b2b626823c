/**
 * The replicated state machine of a member: the MVCC key-value store and the member table, and
 * the deterministic application of committed log entries to them (no clock, no randomness, no
 * I/O: every member applying the same entries in the same order ends in the same state, Raft
 * paper §5.4.3 State Machine Safety). The node (node.ts) acts on the returned outcome — resolving
 * the proposer's request, publishing watch events, updating transport peers — and a simulation
 * (test/sim) runs this same code.
 */
import { Packr } from "msgpackr";
import { KvStore } from "../mvcc/store.ts";
import type { Command, CommandResult, WatchEvent } from "../mvcc/types.ts";
import { encodeConfChange } from "../raft/conf-change.ts";
import { decodeConfChangeEntry } from "../raft/core.ts";
import { type ConfChange, ConfChangeType, type Entry, EntryType, type HardState } from "../raft/types.ts";
import { AssertionError, assert, unreachable } from "../util/assert.ts";
import { CairnError } from "../util/errors.ts";
import { Membership } from "./membership.ts";
import { type ConfMember, decodeProposal, encodeProposal, ProposalKind } from "./proposal.ts";

const packr = new Packr({ useRecords: false });

/** Origin of the bootstrap ConfChange entries: nobody waits for them. */
const BOOTSTRAP_ORIGIN = "0000000000000000";

/** Who proposed an entry: the member id and its sequence number (src/server/proposal.ts). */
export interface ProposalRef {
  origin: string;
  seq: number;
}

/** What applying one committed entry did. */
export type ApplyOutcome =
  /** An empty entry: a leader's no-op of term `term` (Raft thesis §6.4). */
  | { kind: "noop"; term: number }
  /** A membership change, already applied to the member table; the caller applies it to Raft. */
  | { kind: "confChange"; proposal: ProposalRef; change: ConfChange }
  /** Published member attributes or new peer URLs (`peersChanged`). */
  | { kind: "memberUpdate"; proposal: ProposalRef; peersChanged: boolean }
  /** A key-value command: its result and watch events, or the error it failed with (store unchanged). */
  | {
      kind: "kv";
      proposal: ProposalRef;
      command: Command;
      result?: CommandResult;
      error?: CairnError;
      events: WatchEvent[];
    };

/** The store and member table of one member. */
export class ReplicatedState {
  readonly kv = new KvStore();
  readonly membership = new Membership();

  /**
   * Applies one committed entry (in log order).
   * @throws AssertionError on an entry that does not decode (corruption: stop the member)
   * @throws Error other than CairnError from the store: a broken invariant
   */
  apply(entry: Entry): ApplyOutcome {
    if (entry.type === EntryType.ConfChange) {
      const change = decodeConfChangeEntry(entry.data);
      const ctx = decodeProposal(change.context);
      assert(ctx.kind === ProposalKind.ConfMember, "ConfChange entry without a member context");
      this.membership.applyConfChange(change, ctx.member);
      return { kind: "confChange", proposal: { origin: ctx.origin, seq: ctx.seq }, change };
    }
    if (entry.data.length === 0) return { kind: "noop", term: entry.term };
    const p = decodeProposal(entry.data);
    const proposal = { origin: p.origin, seq: p.seq };
    switch (p.kind) {
      case ProposalKind.MemberAttributes:
        this.membership.applyAttributes(p.attributes);
        return { kind: "memberUpdate", proposal, peersChanged: false };
      case ProposalKind.MemberPeerUrls:
        this.membership.applyPeerUrls(p.update);
        return { kind: "memberUpdate", proposal, peersChanged: true };
      case ProposalKind.ConfMember:
        throw new AssertionError("a member context outside a ConfChange entry");
      case ProposalKind.Kv:
        try {
          const { result, events } = this.kv.applyWithEvents(p.command);
          return { kind: "kv", proposal, command: p.command, result, events };
        } catch (err) {
          if (!(err instanceof CairnError)) throw err;
          return { kind: "kv", proposal, command: p.command, error: err, events: [] };
        }
    }
    return unreachable(p, "proposal kind");
  }

  /** The state machine part of a Raft snapshot: store and member table. */
  snapshot(): Uint8Array {
    return packr.pack({ kv: this.kv.snapshot(), members: this.membership.snapshot() }) as Uint8Array;
  }

  /** Replaces the state with a snapshot's (see {@link snapshot}). */
  restore(data: Uint8Array): void {
    const s = packr.unpack(data) as { kv: Uint8Array; members: Uint8Array };
    this.kv.restore(s.kv);
    this.membership.restore(s.members);
  }
}

/**
 * The first entries of a new cluster's log: one AddNode per bootstrap member (sorted by id, term 1,
 * committed), identical on every bootstrap member as in etcd's raft.StartNode.
 * @returns the arguments of RaftStorage.append: hard state and entries
 */
export function bootstrapLog(
  members: readonly { id: string; name: string; peerUrls: string[] }[],
): [HardState, Entry[]] {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const entries: Entry[] = sorted.map((m, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({
      type: ConfChangeType.AddNode,
      nodeId: m.id,
      context: confMemberContext(BOOTSTRAP_ORIGIN, 0, {
        id: m.id,
        name: m.name,
        peerUrls: [...m.peerUrls],
        isLearner: false,
      }),
    }),
  }));
  return [{ term: 1, vote: "", commit: entries.length }, entries];
}

/** The context of a ConfChange: the proposer's reference and the member concerned. */
export function confMemberContext(origin: string, seq: number, member: ConfMember): Uint8Array {
  return encodeProposal({ kind: ProposalKind.ConfMember, origin, seq, member });
}
