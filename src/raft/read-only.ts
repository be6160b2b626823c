/**
 * ReadIndex bookkeeping of a leader (Raft thesis §6.4; etcd-io/raft read_only.go, ReadOnlySafe).
 * Each request records the commit index at the time it arrived; it is answered once a quorum of
 * voters acknowledged a heartbeat carrying its context (or a later request's context: a quorum
 * acknowledging a later heartbeat round confirms leadership after every earlier request too, so
 * one round answers a whole batch).
 */
import { assert } from "../util/assert.ts";
import type { NodeId } from "./types.ts";

/** One pending ReadIndex request. */
export interface ReadIndexRequest {
  /** Member that asked (the leader itself for local requests). */
  from: NodeId;
  /** Opaque request id chosen by the application. */
  ctx: Uint8Array;
  /** Commit index when the request arrived: the read index. */
  index: number;
}

interface PendingRead {
  req: ReadIndexRequest;
  acks: Set<NodeId>;
}

/** Hex form of a context, the key of the pending map. */
export function ctxKey(ctx: Uint8Array): string {
  let s = "";
  for (const b of ctx) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Pending ReadIndex requests of a leader, in arrival order. */
export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  /** Number of requests waiting for a quorum. */
  size(): number {
    return this.queue.length;
  }

  /** Adds a request; a duplicate context is ignored (its first copy will be answered). */
  add(req: ReadIndexRequest): void {
    const key = ctxKey(req.ctx);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req, acks: new Set() });
    this.queue.push(key);
  }

  /**
   * Records that `id` acknowledged the heartbeat carrying `ctx`. Returns the set of members that
   * acknowledged it so far, or undefined when no request has this context.
   */
  recvAck(id: NodeId, ctx: Uint8Array): ReadonlySet<NodeId> | undefined {
    const p = this.pending.get(ctxKey(ctx));
    if (!p) return undefined;
    p.acks.add(id);
    return p.acks;
  }

  /**
   * Removes and returns the request with `ctx` and every request queued before it (all are
   * confirmed by the same quorum). Empty when `ctx` is unknown.
   */
  advance(ctx: Uint8Array): ReadIndexRequest[] {
    const key = ctxKey(ctx);
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const done = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    return done.map((k) => {
      const p = this.pending.get(k);
      assert(p !== undefined, "read-only: queued context %s not pending", k);
      this.pending.delete(k);
      return p.req;
    });
  }

  /** Context of the newest pending request (heartbeats carry it), or undefined. */
  lastPendingCtx(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)?.req.ctx;
  }
}
