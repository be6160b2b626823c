/**
 * Batched linearizable reads (Raft thesis §6.4, etcd's linearizableReadLoop): reads that arrive
 * while a ReadIndex round is in flight join the next round, so one heartbeat round confirms
 * leadership for many reads. A round: ask Raft for a read index with a unique context, wait for
 * the ReadState carrying that context, wait until the applied index reaches it, release the batch.
 * A round that gets no answer is re-asked every `retryMs` (a dropped MsgReadIndex must not stall
 * reads) and fails with CairnError("timeout") after `timeoutMs`.
 *
 * Time and timers come from the host (the node passes real ones, the KV simulation its simulated
 * clock), so the simulation runs this very class.
 */
import { ctxKey } from "../raft/read-only.ts";
import type { ReadState } from "../raft/types.ts";
import { assert } from "../util/assert.ts";
import { CairnError } from "../util/errors.ts";

/** A read waiting for its barrier. */
export interface Reader {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Round {
  ctx: Uint8Array;
  key: string;
  readers: Reader[];
  startedAtMs: number;
  /** Cancels the pending retry timer. */
  cancelRetry: () => void;
}

/** What a ReadIndex batcher needs from its node. */
export interface ReadIndexHost {
  /** Issues raft.readIndex(ctx). @throws CairnError("no_leader") */
  requestReadIndex(ctx: Uint8Array): void;
  /** Calls `done` when the applied index reaches `index` (at once if it already has). */
  waitApplied(index: number, done: () => void): void;
  nowMs(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  schedule(ms: number, fn: () => void): () => void;
  /** Runs `fn` after the current work (a microtask in the node). */
  soon(fn: () => void): void;
  /** A round starts (the simulation checks the ReadIndex invariant with these two). */
  onRoundStart?(ctxKey: string): void;
  /** A round got its ReadState. */
  onRoundAnswered?(ctxKey: string, index: number): void;
}

/** The real clock and timers, for a node. */
export const realTimers: Pick<ReadIndexHost, "nowMs" | "schedule" | "soon"> = {
  nowMs: () => Date.now(),
  schedule: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  soon: (fn) => queueMicrotask(fn),
};

export class ReadIndexBatcher {
  private next: Reader[] = [];
  private inFlight: Round | null = null;
  private counter = 0n;
  /** First 8 bytes of every context: unique to this batcher (this member and process). */
  private readonly contextPrefix: Uint8Array;

  /**
   * @param contextPrefix 8 bytes that no other member or restart of this one uses (the node passes
   *   random bytes), so a ReadState answering another member's request never matches a round here
   */
  constructor(
    private readonly host: ReadIndexHost,
    private readonly retryMs: number,
    private readonly timeoutMs: number,
    contextPrefix: Uint8Array,
  ) {
    assert(contextPrefix.length === 8, "read index context prefix must be 8 bytes");
    this.contextPrefix = contextPrefix;
  }

  /** Resolves when a linearizable read may be served from local state. @throws CairnError timeout | no_leader */
  barrier(): Promise<void> {
    return new Promise((resolve, reject) => this.join({ resolve, reject }));
  }

  /** Calls `reader.resolve` when a linearizable read may be served from local state (or `reject`). */
  join(reader: Reader): void {
    this.next.push(reader);
    if (!this.inFlight) this.startRound();
  }

  /** Feeds a ReadState from Raft's Ready. */
  onReadState(rs: ReadState): void {
    const round = this.inFlight;
    if (!round || ctxKey(rs.requestCtx) !== round.key) return;
    this.host.onRoundAnswered?.(round.key, rs.index);
    this.finishRound(round);
    this.host.waitApplied(rs.index, () => {
      for (const r of round.readers) r.resolve();
    });
  }

  /** Fails every waiting read (node stopping). */
  failAll(err: Error): void {
    if (this.inFlight) {
      const round = this.inFlight;
      this.finishRound(round);
      for (const r of round.readers) r.reject(err);
    }
    for (const r of this.next.splice(0)) r.reject(err);
  }

  private startRound(): void {
    if (this.next.length === 0) return;
    const ctx = new Uint8Array(16);
    ctx.set(this.contextPrefix, 0);
    new DataView(ctx.buffer).setBigUint64(8, ++this.counter);
    const round: Round = {
      ctx,
      key: ctxKey(ctx),
      readers: this.next,
      startedAtMs: this.host.nowMs(),
      cancelRetry: () => {},
    };
    this.next = [];
    this.inFlight = round;
    this.host.onRoundStart?.(round.key);
    this.scheduleRetry(round);
    this.ask(round);
  }

  private scheduleRetry(round: Round): void {
    round.cancelRetry = this.host.schedule(this.retryMs, () => this.retry(round));
  }

  private ask(round: Round): void {
    try {
      this.host.requestReadIndex(round.ctx);
    } catch (err) {
      this.finishRound(round);
      for (const r of round.readers) r.reject(err as Error);
    }
  }

  private retry(round: Round): void {
    if (this.inFlight !== round) return;
    if (this.host.nowMs() - round.startedAtMs >= this.timeoutMs) {
      this.finishRound(round);
      const err = new CairnError("timeout", "linearizable read timed out waiting for the read index");
      for (const r of round.readers) r.reject(err);
      return;
    }
    this.ask(round);
    if (this.inFlight === round) this.scheduleRetry(round);
  }

  private finishRound(round: Round): void {
    round.cancelRetry();
    if (this.inFlight === round) this.inFlight = null;
    // Reads that arrived meanwhile start the next round at once.
    this.host.soon(() => {
      if (!this.inFlight) this.startRound();
    });
  }
}
