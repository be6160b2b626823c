/**
 * Batched linearizable reads (Raft thesis §6.4, etcd's linearizableReadLoop): reads that arrive
 * while a ReadIndex round is in flight join the next round, so one heartbeat round confirms
 * leadership for many reads. A round: ask Raft for a read index with a unique context, wait for
 * the ReadState carrying that context, wait until the applied index reaches it, release the batch.
 * A round that gets no answer is re-asked every `retryMs` (a dropped MsgReadIndex must not stall
 * reads) and fails with CairnError("timeout") after `timeoutMs`.
 */
import type { ReadState } from "../raft/types.ts";
import { assert } from "../util/assert.ts";
import { CairnError } from "../util/errors.ts";

interface Reader {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Round {
  ctx: Uint8Array;
  key: string;
  readers: Reader[];
  startedAtMs: number;
  retryTimer: NodeJS.Timeout;
}

/** What a ReadIndex batcher needs from its node. */
export interface ReadIndexHost {
  /** Issues raft.readIndex(ctx). @throws CairnError("no_leader") */
  requestReadIndex(ctx: Uint8Array): void;
  /** Resolves when the applied index reaches `index`. */
  waitApplied(index: number): Promise<void>;
  nowMs(): number;
}

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
    return new Promise((resolve, reject) => {
      this.next.push({ resolve, reject });
      if (!this.inFlight) this.startRound();
    });
  }

  /** Feeds a ReadState from Raft's Ready. */
  onReadState(rs: ReadState): void {
    const round = this.inFlight;
    if (!round || Buffer.from(rs.requestCtx).toString("hex") !== round.key) return;
    this.finishRound(round);
    this.host.waitApplied(rs.index).then(() => {
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
      key: Buffer.from(ctx).toString("hex"),
      readers: this.next,
      startedAtMs: this.host.nowMs(),
      retryTimer: setInterval(() => this.retry(round), this.retryMs),
    };
    this.next = [];
    this.inFlight = round;
    this.ask(round);
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
  }

  private finishRound(round: Round): void {
    clearInterval(round.retryTimer);
    if (this.inFlight === round) this.inFlight = null;
    // Reads that arrived meanwhile start the next round at once.
    queueMicrotask(() => {
      if (!this.inFlight) this.startRound();
    });
  }
}
