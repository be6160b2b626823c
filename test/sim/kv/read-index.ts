/**
 * Batched linearizable reads of a simulated member: src/server/read-index.ts (ReadIndexBatcher)
 * and the applied-index waiters of src/server/waiters.ts, replayed on the simulated clock.
 *
 * A round (Raft thesis §6.4): ask Raft for a read index with a unique context (16 bytes: 8 that
 * no other member or process uses, then a counter starting at 1), wait for the ReadState carrying
 * that context, wait until the applied index reaches it, release every reader of the round. Readers
 * that arrive meanwhile join the next round. A round with no answer is asked again every
 * `retryMs` and fails with CairnError("timeout") after `timeoutMs`.
 */
import type { ReadState } from "../../../src/raft/types.ts";
import { CairnError } from "../../../src/util/errors.ts";
import type { Scheduler } from "./scheduler.ts";

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
}

/** What the batcher needs from its member. */
export interface ReadIndexHost {
  /** raft.readIndex(ctx). @throws CairnError("no_leader") */
  requestReadIndex(ctx: Uint8Array): void;
  /** The member's applied index. */
  appliedIndex(): number;
  /** False once the member crashed or stopped (its timers die with it). */
  alive(): boolean;
  /** A round starts (for the ReadIndex invariant). */
  onRoundStart(ctxKey: string): void;
  /** A round got its ReadState (for the ReadIndex invariant). */
  onRoundAnswered(ctxKey: string, index: number): void;
}

/** Hex form of a context, as the real batcher keys rounds. */
export function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx).toString("hex");
}

/** The ReadIndex batcher of one member process. */
export class SimReadIndex {
  private next: Reader[] = [];
  private inFlight: Round | null = null;
  private counter = 0n;
  private waiting: { index: number; readers: Reader[] }[] = [];

  constructor(
    private readonly host: ReadIndexHost,
    private readonly sched: Scheduler,
    private readonly retryMs: number,
    private readonly timeoutMs: number,
    private readonly contextPrefix: Uint8Array,
  ) {}

  /** Calls `reader.resolve` when a linearizable read may be served from local state. */
  barrier(reader: Reader): void {
    this.next.push(reader);
    if (!this.inFlight) this.startRound();
  }

  /** A ReadState from a Ready. */
  onReadState(rs: ReadState): void {
    const round = this.inFlight;
    if (!round || ctxKey(rs.requestCtx) !== round.key) return;
    this.host.onRoundAnswered(round.key, rs.index);
    this.finishRound(round);
    this.waiting.push({ index: rs.index, readers: round.readers });
    this.onApplied(this.host.appliedIndex());
  }

  /** The applied index advanced (AppliedIndexWaiters.advance). */
  onApplied(applied: number): void {
    if (this.waiting.length === 0) return;
    const still: typeof this.waiting = [];
    for (const w of this.waiting) {
      if (w.index <= applied) for (const r of w.readers) r.resolve();
      else still.push(w);
    }
    this.waiting = still;
  }

  /** Fails every waiting read (the member stops). */
  failAll(err: Error): void {
    const round = this.inFlight;
    if (round) {
      this.inFlight = null;
      for (const r of round.readers) r.reject(err);
    }
    for (const r of this.next.splice(0)) r.reject(err);
  }

  private startRound(): void {
    if (this.next.length === 0) return;
    const ctx = new Uint8Array(16);
    ctx.set(this.contextPrefix, 0);
    new DataView(ctx.buffer).setBigUint64(8, ++this.counter);
    const round: Round = { ctx, key: ctxKey(ctx), readers: this.next, startedAtMs: this.sched.nowMs };
    this.next = [];
    this.inFlight = round;
    this.host.onRoundStart(round.key);
    this.scheduleRetry(round);
    this.ask(round);
  }

  private scheduleRetry(round: Round): void {
    this.sched.after(this.retryMs, () => {
      if (!this.host.alive() || this.inFlight !== round) return;
      if (this.sched.nowMs - round.startedAtMs >= this.timeoutMs) {
        this.finishRound(round);
        const err = new CairnError("timeout", "linearizable read timed out waiting for the read index");
        for (const r of round.readers) r.reject(err);
        return;
      }
      this.ask(round);
      this.scheduleRetry(round);
    });
  }

  private ask(round: Round): void {
    try {
      this.host.requestReadIndex(round.ctx);
    } catch (err) {
      this.finishRound(round);
      for (const r of round.readers) r.reject(err as Error);
    }
  }

  private finishRound(round: Round): void {
    if (this.inFlight === round) this.inFlight = null;
    // Reads that arrived meanwhile start the next round at once (a microtask in the real batcher).
    this.sched.soon(() => {
      if (this.host.alive() && !this.inFlight) this.startRound();
    });
  }
}
