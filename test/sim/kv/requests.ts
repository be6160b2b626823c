/**
 * The requests of one simulated member process waiting on its apply loop: the client-facing half
 * of src/server/node.ts (CairnNode's KvService and membership calls) on the simulated clock.
 *
 * - Writes become proposals (src/server/proposal.ts envelope: this member's id and a sequence
 *   number starting at the process start time × 1000, as the real node's Date.now() * 1000); they
 *   wait for a leader (NO_LEADER_WAIT), then for their entry to be applied here (REQUEST_TIMEOUT),
 *   and fail with leader_changed when this member stops leading (they may still commit).
 * - Linearizable reads pass a ReadIndex barrier (src/server/read-index.ts), then read the local KvStore.
 * One instance per process: a crash drops it with every waiter (their clients time out).
 */
import type { KvStore } from "../../../src/mvcc/store.ts";
import type {
  Command,
  CommandResult,
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "../../../src/mvcc/types.ts";
import type { RaftCore } from "../../../src/raft/core.ts";
import type { ConfChange, NodeId, ReadState } from "../../../src/raft/types.ts";
import {
  type ConfMember,
  encodeProposal,
  type MemberAttributes,
  type Proposal,
  ProposalKind,
} from "../../../src/server/proposal.ts";
import { ReadIndexBatcher } from "../../../src/server/read-index.ts";
import { confMemberContext } from "../../../src/server/state-machine.ts";
import { AppliedIndexWaiters } from "../../../src/server/waiters.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { MAX_PENDING_PROPOSALS } from "../../../src/util/limits.ts";
import { type HarnessBug, TIMING } from "./config.ts";
import type { Scheduler } from "./scheduler.ts";
import { SimWaitRegistry } from "./waiters.ts";

/** Answer of a call: the response and the log index that carried the write, or the error the real node would give. */
export type Answer<T> = { ok: true; value: T; index: number } | { ok: false; error: Error };

/** Applied result of a proposal, with the index of its entry. */
export interface Applied {
  result: CommandResult;
  index: number;
}

/** What the requests need from their member process. */
export interface RequestsHost {
  id: NodeId;
  sched: Scheduler;
  bug?: HarnessBug;
  core: RaftCore;
  kv: KvStore;
  appliedIndex(): number;
  /** A leader is known (the soft state of the last Ready). */
  leaderKnown(): boolean;
  /** False once this process crashed or stopped. */
  alive(): boolean;
  onReadRoundStart(ctxKey: string): void;
  onReadRoundAnswered(ctxKey: string, index: number): void;
  /** First 8 bytes of this process's read contexts (unique to it, see src/server/read-index.ts). */
  readCtxPrefix: Uint8Array;
}

type Done<T> = (a: Answer<T>) => void;

/** The waiting requests of one member process. */
export class NodeRequests {
  private readonly proposals: SimWaitRegistry<Applied>;
  private readonly reads: ReadIndexBatcher;
  private readonly appliedWaiters = new AppliedIndexWaiters();
  private leaderWaiters: (() => void)[] = [];
  private seq: number;

  constructor(private readonly host: RequestsHost) {
    this.seq = host.sched.nowMs * 1000;
    this.proposals = new SimWaitRegistry(host.sched, host.alive);
    const ifAlive = (fn: () => void) => (): void => {
      if (host.alive()) fn();
    };
    this.reads = new ReadIndexBatcher(
      {
        requestReadIndex: (ctx) => host.core.readIndex(ctx),
        waitApplied: (index, done) => this.appliedWaiters.waitFor(index, host.appliedIndex(), done),
        nowMs: () => host.sched.nowMs,
        // The scheduler has no cancellation, and a process's timers die with it.
        schedule: (ms, fn) => {
          let cancelled = false;
          host.sched.after(
            ms,
            ifAlive(() => {
              if (!cancelled) fn();
            }),
          );
          return () => {
            cancelled = true;
          };
        },
        soon: (fn) => host.sched.soon(ifAlive(fn)),
        onRoundStart: host.onReadRoundStart,
        onRoundAnswered: host.onReadRoundAnswered,
      },
      TIMING.readIndexRetryMs,
      TIMING.requestTimeoutMs,
      host.readCtxPrefix,
    );
  }

  // ---- client calls ---------------------------------------------------------------------------

  put(req: PutRequest, done: Done<PutResponse>): void {
    this.proposeCommand({ op: "put", req }, done as Done<CommandResult>);
  }

  deleteRange(req: DeleteRangeRequest, done: Done<DeleteRangeResponse>): void {
    this.proposeCommand({ op: "deleteRange", req }, done as Done<CommandResult>);
  }

  txn(req: TxnRequest, done: Done<TxnResponse>): void {
    this.proposeCommand({ op: "txn", req }, done as Done<CommandResult>);
  }

  compact(revision: number, done: Done<CommandResult>): void {
    this.proposeCommand({ op: "compact", req: { revision } }, done);
  }

  /** A linearizable read: ReadIndex barrier, then local state (CairnNode.range). */
  range(req: RangeRequest, done: Done<RangeResponse>): void {
    const read = () => {
      try {
        done({ ok: true, value: this.host.kv.range(req), index: this.host.appliedIndex() });
      } catch (err) {
        done({ ok: false, error: err as Error });
      }
    };
    if (this.host.bug === "localReads") {
      read();
      return;
    }
    const fail = (error: Error) => done({ ok: false, error });
    this.waitForLeader(
      () => this.reads.join({ resolve: () => this.host.alive() && read(), reject: fail }),
      fail,
    );
  }

  /** Publishes this member's attributes through Raft, retrying until applied (CairnNode.publishAttributes). */
  publishAttributes(attributes: MemberAttributes): void {
    if (!this.host.alive()) return;
    const p: Proposal = {
      kind: ProposalKind.MemberAttributes,
      origin: this.host.id,
      seq: ++this.seq,
      attributes,
    };
    this.propose(p, (a) => {
      if (!a.ok) this.host.sched.after(TIMING.publishRetryMs, () => this.publishAttributes(attributes));
    });
  }

  /** Proposes a ConfChange for `member` (on the leader); answers once this member applied it. */
  proposeConfChange(type: ConfChange["type"], member: ConfMember, done: Done<unknown>): void {
    const seq = ++this.seq;
    const context = confMemberContext(this.host.id, seq, member);
    this.wait(seq, done);
    try {
      this.host.core.proposeConfChange({ type, nodeId: member.id, context });
    } catch (err) {
      this.proposals.reject(seq, err as Error);
    }
  }

  // ---- from the ready loop --------------------------------------------------------------------

  /** The entry of this member's proposal `seq` was applied (with this result) or failed to apply. */
  resolve(seq: number, applied: Applied): void {
    this.proposals.resolve(seq, applied);
  }

  reject(seq: number, err: Error): void {
    this.proposals.reject(seq, err);
  }

  /** A Ready's soft state names a leader. */
  onLeaderKnown(): void {
    for (const wake of this.leaderWaiters.splice(0)) wake();
  }

  /** This member stopped leading: pending proposals fail (hashicorp/raft; they may still commit). */
  onLeadershipLost(): void {
    this.proposals.rejectAll(new CairnError("leader_changed", "etcdserver: leader changed"));
  }

  onApplied(index: number): void {
    this.appliedWaiters.advance(index);
  }

  onReadState(rs: ReadState): void {
    this.reads.onReadState(rs);
  }

  /** The member stops for good: every waiter fails with `err`. */
  failAll(err: Error): void {
    this.proposals.rejectAll(err);
    this.reads.failAll(err);
  }

  // ---- internals ------------------------------------------------------------------------------

  private proposeCommand(command: Command, done: Done<CommandResult>): void {
    this.propose({ kind: ProposalKind.Kv, origin: this.host.id, seq: ++this.seq, command }, done);
  }

  private wait(seq: number, done: Done<CommandResult>): void {
    this.proposals.wait(
      seq,
      {
        resolve: (a) => done({ ok: true, value: a.result, index: a.index }),
        reject: (error) => done({ ok: false, error }),
      },
      TIMING.requestTimeoutMs,
      "etcdserver: request timed out",
    );
  }

  private propose(p: Proposal, done: Done<CommandResult>): void {
    if (this.proposals.size >= MAX_PENDING_PROPOSALS) {
      done({ ok: false, error: new CairnError("too_many_requests", "etcdserver: too many requests") });
      return;
    }
    this.waitForLeader(
      () => {
        this.wait(p.seq, done);
        try {
          this.host.core.propose([encodeProposal(p)]);
          if (this.host.bug === "ackBeforeCommit" && p.kind === ProposalKind.Kv && p.command.op === "put") {
            this.proposals.resolve(p.seq, {
              result: { header: { revision: this.host.kv.revision + 1 } },
              index: -1,
            });
          }
        } catch (err) {
          this.proposals.reject(p.seq, err as Error);
        }
      },
      (error) => done({ ok: false, error }),
    );
  }

  /** Runs `go` once a leader is known, or `fail`s with no_leader after NO_LEADER_WAIT. */
  private waitForLeader(go: () => void, fail: (err: Error) => void): void {
    if (this.host.leaderKnown()) {
      go();
      return;
    }
    let settled = false;
    const wake = () => {
      if (settled) return;
      settled = true;
      go();
    };
    this.leaderWaiters.push(wake);
    this.host.sched.after(TIMING.noLeaderWaitMs, () => {
      if (settled || !this.host.alive()) return;
      settled = true;
      this.leaderWaiters = this.leaderWaiters.filter((w) => w !== wake);
      fail(new CairnError("no_leader", "etcdserver: no leader"));
    });
  }
}
