/**
 * The lease half of a member's service (etcd v3 Lease API as etcdserver serves it): grant and revoke
 * go through Raft as commands; keep-alive and time-to-live are answered by the leader from its
 * lessor (lessor.ts), once it can answer for expiry; expired leases are revoked by proposals.
 * The node (node.ts) owns the Raft side and calls in here.
 */
import { randomInt } from "node:crypto";
import { leaseNotFoundError, leaseTtlTooLargeError } from "../mvcc/errors.ts";
import type { KvStore } from "../mvcc/store.ts";
import type {
  Command,
  CommandResult,
  LeaseGrantResponse,
  LeaseInfo,
  LeaseRevokeResponse,
} from "../mvcc/types.ts";
import { CairnError, invalidArgument } from "../util/errors.ts";
import {
  LEASE_REVOKES_PER_SECOND,
  MAX_LEASE_TTL_SECONDS,
  MAX_LEASES,
  REQUEST_TIMEOUT_MS,
} from "../util/limits.ts";
import type { Lessor } from "./lessor.ts";
import type { LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse } from "./service.ts";

/** Longest sleep of a lease request waiting for the lessor between re-checks (ms). */
const LEASE_WAIT_POLL_MS = 100;

/** What the lease service needs from its node. */
export interface NodeLeasesDeps {
  kv: KvStore;
  lessor: Lessor;
  /** Monotonic clock in ms (lease expiry). */
  clock: () => number;
  /** etcd minLeaseTTL for this member's timing flags, in seconds. */
  minLeaseTtlSeconds: number;
  /** Heartbeat interval (ms): expired leases are revoked once per heartbeat tick. */
  heartbeatIntervalMs: number;
  /** Proposes a command through Raft and resolves with its result once applied. */
  propose: (command: Command) => Promise<CommandResult>;
  isLeader: () => boolean;
  /** Raft's commit index now. */
  commitIndex: () => number;
  appliedIndex: () => number;
  /** @throws CairnError "stopped" when the member is shutting down */
  assertRunning: () => void;
  logger: { info: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
}

/** Grant, revoke, keep-alive, time-to-live and list of leases, and the revoke of expired ones. */
export class NodeLeases {
  /** Lease requests waiting for the lessor (promotion, a revoke, the applied index). */
  private waiters: (() => void)[] = [];

  constructor(private readonly deps: NodeLeasesDeps) {}

  /**
   * etcd LeaseGrant: a TTL under the minimum is raised to it; id 0 picks a random free id.
   * @throws CairnError "invalid_argument", "lease_ttl_too_large", "too_many_requests", "lease_exists",
   *   and the errors of a proposal
   */
  async grant(req: { ttl: number; id?: number }): Promise<LeaseGrantResponse> {
    const { kv } = this.deps;
    this.deps.assertRunning();
    if (!Number.isSafeInteger(req.ttl)) throw invalidArgument("lease TTL must be an integer (seconds)");
    if (req.ttl > MAX_LEASE_TTL_SECONDS) throw leaseTtlTooLargeError();
    const id = req.id ?? 0;
    if (!Number.isSafeInteger(id) || id < 0) {
      throw invalidArgument("lease ID must be an integer from 0 (pick one) to 2^53-1");
    }
    if (kv.leaseCount >= MAX_LEASES) {
      throw new CairnError("too_many_requests", `etcdserver: too many leases (at most ${MAX_LEASES})`);
    }
    // etcd lessor.Grant: a TTL under the minimum is raised to it. Done here, before proposing, so
    // the entry carries the final TTL and every member applies the same.
    const ttl = Math.max(req.ttl, this.deps.minLeaseTtlSeconds);
    const grant = (leaseId: number) =>
      this.deps.propose({ op: "leaseGrant", req: { id: leaseId, ttl } }) as Promise<LeaseGrantResponse>;
    if (id !== 0) return grant(id);
    // etcd picks an id from its request id generator; Cairn picks a random one below 2^53, and
    // picks again in the unlikely case that it is taken.
    for (let attempt = 1; ; attempt++) {
      let pick = randomLeaseId();
      while (kv.hasLease(pick)) pick = randomLeaseId();
      try {
        return await grant(pick);
      } catch (err) {
        if (!(err instanceof CairnError && err.code === "lease_exists") || attempt >= 3) throw err;
      }
    }
  }

  /** etcd LeaseRevoke. @throws CairnError "lease_not_found", and the errors of a proposal */
  async revoke(id: number): Promise<LeaseRevokeResponse> {
    this.deps.assertRunning();
    if (!Number.isSafeInteger(id) || id <= 0) throw leaseNotFoundError();
    return (await this.deps.propose({ op: "leaseRevoke", req: { id } })) as LeaseRevokeResponse;
  }

  /** etcd LeaseKeepAlive (one renewal), on the leader. @throws see {@link leaderLease} */
  async keepAlive(id: number): Promise<LeaseKeepAliveResponse> {
    const lease = await this.leaderLease(id, { waitIfExpired: true, keys: false });
    const ttl = this.deps.lessor.renew(id, lease.ttl, this.deps.clock());
    return { header: { revision: this.deps.kv.revision }, id, ttl };
  }

  /** etcd LeaseTimeToLive, on the leader; remaining TTL in whole seconds. @throws see {@link leaderLease} */
  async timeToLive(id: number, keys: boolean): Promise<LeaseTimeToLiveResponse> {
    const lease = await this.leaderLease(id, { waitIfExpired: false, keys });
    const remainingMs = this.deps.lessor.remainingMs(id, this.deps.clock()) ?? lease.ttl * 1000;
    // etcd: int64(Remaining().Seconds()), truncated; Cairn shows 0, not a negative number, for an
    // expired lease whose revoke is on its way.
    const resp: LeaseTimeToLiveResponse = {
      header: { revision: this.deps.kv.revision },
      id,
      ttl: Math.max(0, Math.trunc(remainingMs / 1000)),
      grantedTtl: lease.ttl,
    };
    if (keys) resp.keys = lease.keys;
    return resp;
  }

  /** etcd LeaseLeases: every lease of the local state. */
  async list(): Promise<LeaseLeasesResponse> {
    this.deps.assertRunning();
    return { header: { revision: this.deps.kv.revision }, leases: this.deps.kv.leases() };
  }

  /**
   * On the primary lessor: proposes the revoke of each expired lease (etcd revokeExpiredLeases),
   * at most LEASE_REVOKES_PER_SECOND per second; call once per heartbeat tick. A revoke that does
   * not get applied is proposed again after the lessor's retry time (it reports the lease again).
   */
  revokeExpired(): void {
    const { lessor } = this.deps;
    if (!lessor.isPrimary || !this.deps.isLeader()) return;
    const perTick = Math.max(1, Math.ceil((LEASE_REVOKES_PER_SECOND * this.deps.heartbeatIntervalMs) / 1000));
    for (const id of lessor.takeExpired(this.deps.clock(), perTick)) {
      this.deps.logger.info({ lease: id }, "lease expired; proposing its revoke");
      this.deps.propose({ op: "leaseRevoke", req: { id } }).catch((err: unknown) => {
        if (err instanceof CairnError && err.code === "lease_not_found") return;
        this.deps.logger.warn({ lease: id, err }, "revoke of an expired lease failed; it will be retried");
      });
    }
  }

  /** Lease state may have changed (entries applied, the lessor promoted or demoted): re-check waiting requests. */
  wake(): void {
    if (this.waiters.length === 0) return;
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Lease `id` once this member can answer for its expiry (etcd LeaseRenew / LeaseTimeToLive on
   * the leader): it leads, its lessor is promoted (the first entry of its term is applied), and
   * it has applied what was committed when the request arrived (etcd waitAppliedIndex), so a lease
   * granted or revoked just before is seen. With `waitIfExpired`, an expired lease waits for its
   * revoke and then answers lease_not_found, as etcd's Renew does.
   * @throws CairnError "leader_changed" (not, or no longer, the leader), "lease_not_found",
   *   "timeout", "stopped"
   */
  private async leaderLease(id: number, opts: { waitIfExpired: boolean; keys: boolean }): Promise<LeaseInfo> {
    const { deps } = this;
    deps.assertRunning();
    const notLeader = () =>
      new CairnError(
        "leader_changed",
        "etcdserver: not leader; lease keep-alive and time-to-live are served by the leader",
      );
    if (!deps.isLeader()) throw notLeader();
    if (!Number.isSafeInteger(id) || id <= 0) throw leaseNotFoundError();
    const committed = deps.commitIndex();
    return this.waitFor(() => {
      if (!deps.isLeader()) throw notLeader();
      if (!deps.lessor.isPrimary || deps.appliedIndex() < committed) return undefined;
      const lease = deps.kv.lease(id, opts.keys);
      if (lease === undefined) throw leaseNotFoundError();
      if (opts.waitIfExpired && deps.lessor.isExpired(id, deps.clock())) return undefined;
      return lease;
    });
  }

  /**
   * Re-runs `check` whenever lease state may have changed ({@link wake}) or every
   * LEASE_WAIT_POLL_MS, until it returns a value or throws; CairnError "timeout" after REQUEST_TIMEOUT_MS.
   */
  private async waitFor<T>(check: () => T | undefined): Promise<T> {
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    for (;;) {
      this.deps.assertRunning();
      const value = check();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new CairnError("timeout", "etcdserver: request timed out");
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(
          () => {
            this.waiters = this.waiters.filter((w) => w !== wake);
            resolve();
          },
          Math.min(left, LEASE_WAIT_POLL_MS),
        );
        this.waiters.push(wake);
      });
    }
  }
}

/** A random lease id in 1 ..= 2^53-1 (ids stay exact as JSON numbers). */
function randomLeaseId(): number {
  const id = randomInt(0, 2 ** 21) * 2 ** 32 + randomInt(0, 2 ** 32);
  return id === 0 ? 1 : id;
}
