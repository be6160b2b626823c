/**
 * Safety properties checked while a KV simulation runs (Raft paper Figure 3, Ongaro's thesis §6.4).
 * A broken one throws {@link SafetyViolation} at once; the run adds the seed, time and trace.
 *
 * - Election Safety (§5.2): at most one leader per term (checked on every member touched by an
 *   event); a member's term never goes back within a process, and across a crash its recovered
 *   term and vote are at least what it had made durable (one vote per term).
 * - Log Matching / Leader Completeness (§5.3, §5.4): a committed entry never changes. The first
 *   apply of an index anywhere records (term, type, bytes); every later apply and every recovered
 *   log entry at or below the recovered commit index must be identical. A write of another entry
 *   at a committed index is legal only from a stale term (a deposed leader that does not know yet):
 *   one with the committed entry's own term (two entries for one index in one term, §5.3) or with a
 *   term above every leader's term at commit time (that leader must have held the entry, §5.4) is
 *   a violation. A member that becomes leader of a term must hold every committed entry it has not
 *   compacted.
 * - State Machine Safety (§5.4.3): members at the same applied index have identical state: the
 *   digest of the KvStore snapshot plus the member table is compared every few indexes, after
 *   every snapshot restore, and at the end.
 * - At most once: a proposal (its origin member and sequence number, src/server/proposal.ts) is
 *   committed at one index only; a second copy would apply a client's command twice.
 * - ReadIndex (thesis §6.4): the read index a round of linearizable reads gets is at least the
 *   highest commit index any member knew when the round started.
 */
import type { RaftCore } from "../../../src/raft/core.ts";
import type { Entry, HardState, NodeId, RaftRole } from "../../../src/raft/types.ts";
import type { PersistedState } from "../../../src/storage/types.ts";
import type { KvNode } from "./node.ts";

/** A broken safety property. */
export class SafetyViolation extends Error {
  override name = "SafetyViolation";
}

/** An entry as first applied anywhere. */
export interface CommittedEntry {
  term: number;
  type: number;
  data: Uint8Array;
  /** Member that applied it first. */
  by: string;
  /** Highest term any leader was seen in when it was first applied (>= the term that committed it). */
  leaderTermAtCommit: number;
}

/**
 * The fields of RaftCore's internal Raft state read after every event. RaftCore.status() gives the
 * same values but allocates (a progress map on leaders) and dominated the simulation's profile.
 */
interface RaftView {
  term: number;
  role: RaftRole;
  log: { committed: number; firstIndex(): number };
}

function raftView(core: RaftCore): RaftView {
  return (core as unknown as { raft: RaftView }).raft;
}

/** Bytes of the proposal envelope header: kind, origin member id, sequence number. */
const PROPOSAL_HEADER_BYTES = 17;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** The global record of what was committed, and the checks against it. */
export class SafetyChecker {
  /** term → leader seen in that term. */
  private readonly leaders = new Map<number, NodeId>();
  private readonly completenessChecked = new Set<string>();
  /** index → the entry applied there first (gapless from 1: members apply in order). */
  readonly committed: (CommittedEntry | undefined)[] = [];
  /** Highest commit index any member reported. */
  maxCommitSeen = 0;
  /** Highest term any leader was seen in. */
  private maxLeaderTerm = 0;
  /** Proposal envelope header (kind, origin, seq) → index it was committed at. */
  private readonly proposalIndex = new Map<string, number>();
  private readonly digests = new Map<number, { digest: number; by: string }>();
  /** Read round (member/incarnation/ctx) → lowest acceptable read index. */
  private readonly readRounds = new Map<string, number>();
  /** Per process (member/incarnation): highest term seen. */
  private readonly termSeen = new Map<string, number>();
  /** Per member: the newest hard state its storage confirmed durable before its last crash. */
  private readonly durableFloor = new Map<NodeId, HardState>();
  readonly counts = { applies: 0, digestsCompared: 0, readsChecked: 0, leaderChecks: 0, recoveries: 0 };

  constructor(private readonly clock: { nowMs: number }) {}

  private fail(msg: string): never {
    throw new SafetyViolation(`t=${this.clock.nowMs}ms: ${msg}`);
  }

  /** Highest index applied anywhere. */
  get maxCommittedIndex(): number {
    return Math.max(this.committed.length - 1, 0);
  }

  /** Election Safety (§5.2), term monotonicity and Leader Completeness (§5.4): call for members touched by an event. */
  observe(node: KvNode): void {
    const r = raftView(node.core);
    const st = { term: r.term, role: r.role, commit: r.log.committed, firstIndex: r.log.firstIndex() };
    if (st.commit > this.maxCommitSeen) this.maxCommitSeen = st.commit;
    const proc = `${node.name}/${node.incarnation}`;
    const seen = this.termSeen.get(proc) ?? 0;
    if (st.term < seen) this.fail(`${node.name} term went back from ${seen} to ${st.term}`);
    this.termSeen.set(proc, st.term);
    if (st.role !== "leader") return;
    const prev = this.leaders.get(st.term);
    if (prev !== undefined && prev !== node.id)
      this.fail(`two leaders in term ${st.term}: ${prev} and ${node.id} (§5.2)`);
    this.leaders.set(st.term, node.id);
    if (st.term > this.maxLeaderTerm) this.maxLeaderTerm = st.term;
    const key = `${node.id}/${st.term}`;
    if (this.completenessChecked.has(key)) return;
    this.completenessChecked.add(key);
    this.counts.leaderChecks++;
    for (let i = Math.max(st.firstIndex, 1); i < this.committed.length; i++) {
      const t = node.core.logTerm(i);
      const c = this.committed[i]!;
      if (t !== c.term)
        this.fail(
          `leader ${node.name} of term ${st.term} has term ${t} at committed index ${i} (want ${c.term}, §5.4)`,
        );
    }
  }

  /** A committed entry never changes (§5.3/§5.4): `entries` are about to be written to `node`'s log. */
  onPersist(node: KvNode, entries: readonly Entry[]): void {
    for (const e of entries) {
      const c = this.committed[e.index];
      if (!c || this.same(c, e)) continue;
      if (e.term === c.term || e.term > c.leaderTermAtCommit)
        this.fail(
          `${node.name} writes (index ${e.index}, term ${e.term}) over committed (term ${c.term}, applied first by ${c.by}, leaders up to term ${c.leaderTermAtCommit} then)`,
        );
    }
  }

  /** State Machine Safety (§5.4.3): `node` applies `e`. */
  onApply(node: KvNode, e: Entry): void {
    this.counts.applies++;
    const c = this.committed[e.index];
    if (c === undefined) {
      if (e.index !== Math.max(this.committed.length, 1))
        this.fail(`${node.name} applied ${e.index} past a gap`);
      this.committed[e.index] = {
        term: e.term,
        type: e.type,
        data: e.data,
        by: node.name,
        leaderTermAtCommit: Math.max(this.maxLeaderTerm, e.term),
      };
      if (e.type === 0 && e.data.length >= PROPOSAL_HEADER_BYTES) {
        const key = Buffer.from(e.data.buffer, e.data.byteOffset, PROPOSAL_HEADER_BYTES).toString("hex");
        const first = this.proposalIndex.get(key);
        if (first !== undefined)
          this.fail(`one proposal (${key}) committed twice: at ${first} and at ${e.index}`);
        this.proposalIndex.set(key, e.index);
      }
      return;
    }
    if (!this.same(c, e))
      this.fail(
        `${node.name} applied (index ${e.index}, term ${e.term}) but ${c.by} applied (term ${c.term}) there`,
      );
  }

  /** The state of `node` at applied index `index` has `digest`: equal for every member. */
  onStateDigest(node: KvNode, index: number, digest: number): void {
    const d = this.digests.get(index);
    if (!d) {
      this.digests.set(index, { digest, by: node.name });
      return;
    }
    this.counts.digestsCompared++;
    if (d.digest !== digest)
      this.fail(
        `${node.name}'s state at applied index ${index} differs from ${d.by}'s (digest ${digest} vs ${d.digest})`,
      );
  }

  /** What a restarted member recovered must agree with everything committed and durable before. */
  onRecovered(node: KvNode, state: PersistedState): void {
    this.counts.recoveries++;
    const hs = state.hardState;
    const floor = this.durableFloor.get(node.id);
    if (floor) {
      const term = hs?.term ?? 0;
      if (term < floor.term)
        this.fail(`${node.name} recovered term ${term} below its durable term ${floor.term}`);
      if (term === floor.term && floor.vote !== "" && hs?.vote !== floor.vote)
        this.fail(
          `${node.name} recovered vote ${hs?.vote || "none"} in term ${term}, but had voted ${floor.vote} (§5.2)`,
        );
    }
    const commit = hs?.commit ?? 0;
    for (const e of state.entries) {
      if (e.index > commit) break;
      const c = this.committed[e.index];
      if (c && !this.same(c, e))
        this.fail(
          `${node.name} recovered (index ${e.index}, term ${e.term}) but committed there is term ${c.term}`,
        );
    }
    const snap = state.snapshot?.metadata;
    if (snap) {
      const c = this.committed[snap.index];
      if (c && c.term !== snap.term)
        this.fail(
          `${node.name} recovered a snapshot at (index ${snap.index}, term ${snap.term}) but committed there is term ${c.term}`,
        );
    }
  }

  /** `node` crashes; `durable` is the newest hard state its storage confirmed. */
  onCrash(node: KvNode, durable: HardState): void {
    const prev = this.durableFloor.get(node.id);
    if (!prev || durable.term > prev.term || (durable.term === prev.term && durable.vote !== ""))
      this.durableFloor.set(node.id, { ...durable });
  }

  /** A ReadIndex round starts on `node` (thesis §6.4: its index must cover everything committed now). */
  onReadRoundStart(node: KvNode, ctxKey: string): void {
    this.readRounds.set(`${node.name}/${node.incarnation}/${ctxKey}`, this.maxCommitSeen);
  }

  /** The round got read index `index`. */
  onReadRoundAnswered(node: KvNode, ctxKey: string, index: number): void {
    const min = this.readRounds.get(`${node.name}/${node.incarnation}/${ctxKey}`);
    if (min === undefined) this.fail(`${node.name} got a ReadState for unknown round ${ctxKey}`);
    this.counts.readsChecked++;
    if (index < min)
      this.fail(
        `${node.name} got read index ${index} for round ${ctxKey}, but ${min} was committed when it started (§6.4)`,
      );
  }

  private same(c: CommittedEntry, e: Entry): boolean {
    return c.term === e.term && c.type === e.type && sameBytes(c.data, e.data);
  }
}
