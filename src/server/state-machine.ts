/**
 * The replicated state machine of a member: the MVCC key-value store and the member table, and
 * the deterministic application of committed log entries to them (no clock, no randomness, no
 * I/O: every member applying the same entries in the same order ends in the same state, Raft
 * paper §5.4.3 State Machine Safety). The node (node.ts) acts on the returned outcome — resolving
 * the proposer's request, publishing watch events, updating transport peers — and a simulation
 * (test/sim) runs this same code.
 */
import { Packr } from "msgpackr";
import { SnapshotFrameSplitter } from "../mvcc/snapshot.ts";
import { KvStore, type SnapshotReader, type SnapshotRestorer } from "../mvcc/store.ts";
import type { Command, CommandResult, WatchEvent } from "../mvcc/types.ts";
import { encodeConfChange } from "../raft/conf-change.ts";
import { decodeConfChangeEntry } from "../raft/core.ts";
import { type ConfChange, ConfChangeType, type Entry, EntryType, type HardState } from "../raft/types.ts";
import { AssertionError, assert, unreachable } from "../util/assert.ts";
import { CairnError, invalidArgument } from "../util/errors.ts";
import { encodeFrame } from "../util/framing.ts";
import { Membership } from "./membership.ts";
import { type ConfMember, decodeProposal, encodeProposal, ProposalKind } from "./proposal.ts";

const packr = new Packr({ useRecords: false });

/** First item of a state snapshot's header frame. */
const STATE_MAGIC = "cairn-state";
const STATE_FORMAT_VERSION = 1;

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

  /**
   * A reader of the state as of now (store and member table) in the streamed snapshot format: a
   * header frame `["cairn-state", 1, member table bytes]`, then the store's frames
   * (src/mvcc/snapshot.ts). The state may go on changing while it is read (KvStore.snapshotReader).
   * Close it, or read it to the end.
   */
  snapshotReader(): SnapshotReader {
    const header = encodeFrame(packr.pack([STATE_MAGIC, STATE_FORMAT_VERSION, this.membership.snapshot()]));
    const kv = this.kv.snapshotReader();
    return {
      frames: (function* () {
        try {
          yield header;
          yield* kv.frames;
        } finally {
          kv.close();
        }
      })(),
      close: () => kv.close(),
    };
  }

  /** The state machine part of a Raft snapshot as one buffer (the frames of {@link snapshotReader}). */
  snapshot(): Uint8Array {
    return Buffer.concat([...this.snapshotReader().frames]);
  }

  /**
   * Replaces the state with a snapshot's (see {@link snapshotReader}; the single-value format of
   * earlier versions too).
   * @throws CairnError("invalid_argument") when `data` is not such a snapshot; the state is then unchanged
   */
  restore(data: Uint8Array): void {
    const r = new StateRestorer(this);
    r.push(data);
    r.finish();
  }

  /**
   * {@link restore} from chunks read one at a time (a snapshot file or a peer's stream): memory
   * stays near one frame plus the state being built; the state is replaced only after the last chunk.
   * @throws CairnError("invalid_argument") on a malformed snapshot; whatever reading `chunks` throws
   */
  async restoreFrom(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const r = new StateRestorer(this);
    for await (const chunk of chunks) r.push(chunk);
    r.finish();
  }
}

/** Builds a state from snapshot bytes pushed in chunks and installs it in `target` at the end. */
class StateRestorer {
  private readonly splitter = new SnapshotFrameSplitter();
  private readonly kv: SnapshotRestorer;
  private members: Uint8Array | null = null;
  /** Chunks of a snapshot in the single-value format of earlier versions (restored whole), or null. */
  private legacy: Uint8Array[] | null = null;
  private started = false;

  constructor(private readonly target: ReplicatedState) {
    this.kv = target.kv.restorer();
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (!this.started) {
      this.started = true;
      // A msgpack fixmap of two entries; a frame starts with a length far below 2^31 instead.
      if (chunk[0] === 0x82) this.legacy = [];
    }
    if (this.legacy !== null) this.legacy.push(chunk);
    else this.splitter.push(chunk, (payload) => this.frame(payload));
  }

  finish(): void {
    if (this.legacy !== null) {
      const s = packr.unpack(Buffer.concat(this.legacy)) as { kv: Uint8Array; members: Uint8Array };
      this.target.kv.restore(s.kv);
      this.target.membership.restore(s.members);
      return;
    }
    this.splitter.end();
    if (this.members === null) throw malformedState("no header frame");
    this.kv.finish();
    this.target.membership.restore(this.members);
  }

  private frame(payload: Uint8Array): void {
    if (this.members !== null) {
      this.kv.frame(payload);
      return;
    }
    let raw: unknown;
    try {
      raw = packr.unpack(payload);
    } catch (err) {
      throw malformedState((err as Error).message);
    }
    if (!Array.isArray(raw) || raw.length !== 3 || raw[0] !== STATE_MAGIC) throw malformedState("bad header");
    if (raw[1] !== STATE_FORMAT_VERSION) throw malformedState(`unknown format version ${String(raw[1])}`);
    if (!(raw[2] instanceof Uint8Array)) throw malformedState("member table is not bytes");
    this.members = raw[2];
  }
}

function malformedState(what: string): Error {
  return invalidArgument(`malformed state snapshot: ${what}`);
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
