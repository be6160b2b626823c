/**
 * The replicated half of etcd's lessor (server/lease/lessor.go): which leases exist, their granted
 * TTL, and which keys are attached to each. Changed only by applying commands (KvStore), so every
 * member holds the same table. When a lease expires is not here: that is the leader's business
 * (src/server/lessor.ts), decided from its own clock and turned into a LeaseRevoke entry.
 *
 * Invariant (kept by KvStore): a key is attached to lease L exactly when the key exists and its
 * newest put carried lease L; a put to a lease that does not exist is refused before it writes,
 * and revoking a lease deletes every key attached to it, so no live key names a missing lease
 * (except keys of a format-1 snapshot, written before leases existed; see snapshot.ts).
 */
import { assert } from "../util/assert.ts";

/** One lease: id, granted TTL (seconds), attached keys (binary strings, see keys.ts). */
export interface LeaseRecord {
  readonly id: number;
  readonly ttl: number;
  readonly keys: Set<string>;
}

/** Approximate bytes of bookkeeping per lease (record, map slot, set). */
export const LEASE_OVERHEAD_BYTES = 160;

export class LeaseTable {
  private readonly byId = new Map<number, LeaseRecord>();

  /** Number of leases. */
  get size(): number {
    return this.byId.size;
  }

  /** The lease `id`, or undefined. */
  get(id: number): LeaseRecord | undefined {
    return this.byId.get(id);
  }

  /** True when lease `id` exists. */
  has(id: number): boolean {
    return this.byId.has(id);
  }

  /**
   * Adds a lease with no keys. @throws AssertionError when `id` exists (callers check first)
   */
  grant(id: number, ttl: number): LeaseRecord {
    assert(!this.byId.has(id), "lease table: grant of an existing lease");
    const l: LeaseRecord = { id, ttl, keys: new Set() };
    this.byId.set(id, l);
    return l;
  }

  /** Removes lease `id` (its keys must have been deleted already). */
  remove(id: number): void {
    const l = this.byId.get(id);
    assert(l !== undefined, "lease table: remove of a missing lease");
    assert(l.keys.size === 0, "lease table: removed lease still has keys");
    this.byId.delete(id);
  }

  /** Attaches key `k` to lease `id`. @throws AssertionError when the lease does not exist */
  attach(id: number, k: string): void {
    const l = this.byId.get(id);
    assert(l !== undefined, "lease table: attach to a missing lease");
    l.keys.add(k);
  }

  /**
   * Detaches key `k` from lease `id`. A missing lease is ignored: only keys of a format-1 snapshot
   * (before leases existed) can name one.
   */
  detach(id: number, k: string): void {
    this.byId.get(id)?.keys.delete(k);
  }

  /** Every lease, ascending by id (a deterministic order, whatever the history of the table). */
  sorted(): LeaseRecord[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }
}
