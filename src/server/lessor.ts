/**
 * The leader's half of etcd's lessor (server/lease/lessor.go): when each lease expires. Expiry
 * times live only here, on the leader, measured with the node's monotonic clock; they are never
 * replicated and never read while applying. The replicated half (which leases exist, their TTL
 * and keys) is src/mvcc/leases.ts.
 *
 * etcd's rules, followed here:
 * - Promote (the leader has applied the first entry of its term, i.e. everything earlier terms
 *   committed): every lease expires at now + extend + TTL, extend = the election timeout, so no
 *   lease expires early because leadership moved (the old leader's deadlines died with it).
 * - Demote (leadership lost): no expiry at all ("forever") until promoted again.
 * - Grant applied on the primary: expires at now + TTL. Renew (keepalive): now + TTL.
 * - An expired lease is reported once for a revoke, then again every `retryMs` while it still
 *   exists (etcd expiredLeaseRetryInterval), at most `max` per call (etcd leaseRevokeRate).
 *
 * Checkpointing the remaining TTL through Raft (etcd 3.4 --experimental-enable-lease-checkpoint)
 * is not done: after a leader change every lease gets its full TTL again, as etcd's default.
 *
 * Pure: time comes in as `nowMs` arguments (no clock read here), so tests drive it.
 */
import { assert } from "../util/assert.ts";
import { MinHeap } from "../util/min-heap.ts";

/** One scheduled look at a lease: valid while `checkAtMs` of the lease still equals `atMs`. */
interface Check {
  id: number;
  atMs: number;
}

/** Order of the checks: by time (ties by id, so the order is deterministic). */
function before(a: Check, b: Check): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.id < b.id);
}

/** A lease as the lessor needs it: id and granted TTL in seconds. */
export interface LeaseTtl {
  id: number;
  ttl: number;
}

export class Lessor {
  private primary = false;
  /** Lease id → expiry (ms, the node's clock). Only while primary. */
  private readonly expiryMs = new Map<number, number>();
  /** Lease id → when the heap should look at it next (expiry, or the retry time after a report). */
  private readonly checkAtMs = new Map<number, number>();
  private readonly heap = new MinHeap(before);

  /** @param retryMs wait before an expired lease that still exists is reported again (ms) */
  constructor(private readonly retryMs: number) {}

  /** True between promote() and demote(): this member decides expiries and renews leases. */
  get isPrimary(): boolean {
    return this.primary;
  }

  /** Leases with an expiry (all leases while primary). */
  get size(): number {
    return this.expiryMs.size;
  }

  /**
   * Becomes primary: every lease expires at `nowMs + extendMs + ttl * 1000` (etcd Promote with
   * extend = election timeout).
   */
  promote(nowMs: number, extendMs: number, leases: Iterable<LeaseTtl>): void {
    this.clear();
    this.primary = true;
    for (const l of leases) this.schedule(l.id, nowMs + extendMs + l.ttl * 1000);
  }

  /** Stops being primary: every expiry is forgotten (etcd Demote: leases live "forever"). */
  demote(): void {
    this.clear();
    this.primary = false;
  }

  /** A grant was applied: while primary, the lease expires at now + TTL (etcd Grant on the primary). */
  granted(id: number, ttl: number, nowMs: number): void {
    if (this.primary) this.schedule(id, nowMs + ttl * 1000);
  }

  /** A revoke was applied: the lease has no expiry any more. */
  revoked(id: number): void {
    this.expiryMs.delete(id);
    this.checkAtMs.delete(id);
  }

  /**
   * Renews lease `id` to now + TTL (etcd Renew). Only while primary.
   * @returns the TTL granted (seconds)
   */
  renew(id: number, ttl: number, nowMs: number): number {
    assert(this.primary, "lessor: renew while not primary");
    this.schedule(id, nowMs + ttl * 1000);
    return ttl;
  }

  /** Milliseconds until lease `id` expires (<= 0 once expired); undefined when not primary or unknown. */
  remainingMs(id: number, nowMs: number): number | undefined {
    const at = this.expiryMs.get(id);
    return at === undefined ? undefined : at - nowMs;
  }

  /** True when lease `id` has an expiry and it has passed. */
  isExpired(id: number, nowMs: number): boolean {
    const at = this.expiryMs.get(id);
    return at !== undefined && at <= nowMs;
  }

  /**
   * The leases whose expiry has passed and that are due for a (first or repeated) revoke, soonest
   * first, at most `max`. Each one reported is looked at again `retryMs` later if still there.
   */
  takeExpired(nowMs: number, max: number): number[] {
    const out: number[] = [];
    while (out.length < max) {
      const top = this.heap.peek();
      if (top === undefined || top.atMs > nowMs) break;
      this.heap.pop();
      if (this.checkAtMs.get(top.id) !== top.atMs) continue; // stale: renewed, revoked or re-checked
      out.push(top.id);
      const retryAt = nowMs + this.retryMs;
      this.checkAtMs.set(top.id, retryAt);
      this.heap.push({ id: top.id, atMs: retryAt });
    }
    // Stale checks pile up with renewals; rebuild when they dominate, so memory stays ~ live leases.
    if (this.heap.size > 4 * this.checkAtMs.size + 1024) this.rebuild();
    return out;
  }

  private schedule(id: number, atMs: number): void {
    this.expiryMs.set(id, atMs);
    this.checkAtMs.set(id, atMs);
    this.heap.push({ id, atMs });
    if (this.heap.size > 4 * this.checkAtMs.size + 1024) this.rebuild();
  }

  private rebuild(): void {
    this.heap.clear();
    for (const [id, atMs] of this.checkAtMs) this.heap.push({ id, atMs });
  }

  private clear(): void {
    this.expiryMs.clear();
    this.checkAtMs.clear();
    this.heap.clear();
  }
}

/**
 * etcd's minimum lease TTL (etcdserver NewServer): minTTL = ((3 * electionTicks) / 2) heartbeats,
 * rounded up to whole seconds, with electionTicks = electionTimeout / heartbeat (integer division,
 * as etcd's ElectionTicks). A shorter requested TTL is raised to it, so a lease cannot expire
 * within the time a leader change takes. Defaults (100 ms, 1000 ms): 15 x 100 ms = 1.5 s → 2 s.
 * @returns seconds, at least 1
 */
export function minLeaseTtlSeconds(heartbeatIntervalMs: number, electionTimeoutMs: number): number {
  const electionTicks = Math.floor(electionTimeoutMs / heartbeatIntervalMs);
  const minTtlMs = Math.floor((3 * electionTicks) / 2) * heartbeatIntervalMs;
  return Math.max(1, Math.ceil(minTtlMs / 1000));
}
