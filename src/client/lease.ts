/**
 * Leases with automatic keep-alive (etcd clientv3 Lease.KeepAlive): after a grant the client
 * renews the lease every TTL/3 seconds (the TTL of the last answer) with the one-shot
 * `POST /v1/leases/{id}/keepalive`, on any endpoint (a follower forwards it to the leader),
 * retried like a read (renewing twice is harmless). The keep-alive stops, and the lease is
 * reported lost, when the server says the lease is gone (lease_not_found: expired or revoked
 * elsewhere) or when no renewal succeeded within the TTL since the last one (etcd's client drops
 * the keep-alive at that deadline too: the lease may have expired on the server, so whatever it
 * protected must be treated as gone).
 */
import { CairnClientError, isClientError } from "./errors.ts";
import { sleep, type Transport } from "./transport.ts";
import { num, obj } from "./types.ts";

/** Why a lease's keep-alive ended. */
export type LeaseEndReason =
  /** close() was called: keep-alive stopped, the lease expires after its TTL. */
  | "closed"
  /** revoke() was called. */
  | "revoked"
  /** The server no longer has the lease (it expired, or someone revoked it). */
  | "not_found"
  /** No keep-alive succeeded within the TTL: the lease must be taken as expired. */
  | "keepalive_timeout";

/** How a lease's keep-alive ended (the value of {@link Lease.ended}). */
export interface LeaseEnd {
  id: number;
  reason: LeaseEndReason;
  /** The last keep-alive error, for not_found and keepalive_timeout. */
  error?: CairnClientError;
}

/** Answer of time-to-live (etcd LeaseTimeToLive). */
export interface LeaseTimeToLive {
  id: number;
  /** Remaining seconds (truncated); -1 never: a missing lease is an error. */
  ttl: number;
  /** TTL the lease was granted with, in seconds. */
  grantedTtl: number;
  /** Keys attached, when asked for. */
  keys?: string[];
}

/** Smallest pause between two keep-alives, ms (a 1 s lease renews every 333 ms). */
const MIN_KEEPALIVE_INTERVAL_MS = 100;
/** Pause after a keep-alive attempt failed while the lease may still be alive, ms (at most). */
const KEEPALIVE_RETRY_MS = 500;

/**
 * A granted lease. Keep-alive runs from the grant (unless turned off) until close(), revoke(),
 * or loss; listen with onLost() or await `ended`.
 */
export class Lease {
  /** TTL of the last grant or keep-alive answer, seconds. */
  ttl: number;
  /** Date.now() of the last successful grant or renewal. */
  lastRenewedAtMs: number;
  /** Resolves (never rejects) when keep-alive ends, with why. */
  readonly ended: Promise<LeaseEnd>;
  private end: LeaseEnd | undefined;
  private resolveEnded!: (end: LeaseEnd) => void;
  private readonly stop = new AbortController();
  private readonly lostListeners = new Set<(end: LeaseEnd) => void>();

  /**
   * @param grantedTtl TTL in seconds as granted (after the server raised it to its minimum)
   * @internal use CairnClient.grant
   */
  constructor(
    private readonly transport: Transport,
    readonly id: number,
    readonly grantedTtl: number,
    keepAlive: boolean,
    grantedAtMs: number,
  ) {
    this.ttl = grantedTtl;
    this.lastRenewedAtMs = grantedAtMs;
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    if (keepAlive) void this.keepAliveLoop();
  }

  /** The id as etcd writes it in lock and election keys (`%x`, lowercase hex). */
  get idHex(): string {
    return this.id.toString(16);
  }

  /** True until keep-alive ended (for any reason). */
  get active(): boolean {
    return this.end === undefined;
  }

  /** How keep-alive ended, once it did. */
  get endedWith(): LeaseEnd | undefined {
    return this.end;
  }

  /**
   * Calls `listener` once if the lease is lost (reasons not_found and keepalive_timeout; not after
   * close() or revoke()). Called at once if it was lost already.
   * @returns a function that removes the listener
   */
  onLost(listener: (end: LeaseEnd) => void): () => void {
    if (this.end) {
      if (this.end.reason === "not_found" || this.end.reason === "keepalive_timeout") listener(this.end);
      return () => {};
    }
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Stops keep-alive without revoking: the lease (and its keys) expire after the TTL. */
  close(): void {
    this.finish({ id: this.id, reason: "closed" });
  }

  /**
   * Stops keep-alive and revokes the lease: its keys are deleted now (etcd LeaseRevoke).
   * @throws CairnClientError as {@link revokeLease} (a lease already gone is not an error here)
   */
  async revoke(): Promise<void> {
    this.finish({ id: this.id, reason: "revoked" });
    try {
      await revokeLease(this.transport, this.id);
    } catch (err) {
      if (isClientError(err, "lease_not_found")) return;
      throw err;
    }
  }

  /** Remaining TTL and attached keys. @throws CairnClientError "lease_not_found", retry errors */
  timeToLive(opts: { keys?: boolean } = {}): Promise<LeaseTimeToLive> {
    return leaseTimeToLive(this.transport, this.id, opts.keys === true);
  }

  private finish(end: LeaseEnd): void {
    if (this.end) return;
    this.end = end;
    this.stop.abort();
    if (end.reason === "not_found" || end.reason === "keepalive_timeout") {
      for (const l of this.lostListeners) {
        try {
          l(end);
        } catch {
          // a listener's failure must not stop the others
        }
      }
    }
    this.lostListeners.clear();
    this.resolveEnded(end);
  }

  private async keepAliveLoop(): Promise<void> {
    let wait = Math.max(MIN_KEEPALIVE_INTERVAL_MS, (this.ttl * 1000) / 3);
    for (;;) {
      try {
        await sleep(wait, AbortSignal.any([this.stop.signal, this.transport.closing.signal]));
      } catch {
        if (this.transport.isClosed) this.finish({ id: this.id, reason: "closed" });
        return;
      }
      if (this.end) return;
      const deadlineMs = this.lastRenewedAtMs + this.ttl * 1000;
      const left = deadlineMs - Date.now();
      if (left <= 0) {
        this.finish({
          id: this.id,
          reason: "keepalive_timeout",
          error: new CairnClientError("lease_lost", `lease ${this.idHex} was not renewed within its TTL`),
        });
        return;
      }
      try {
        const r = await keepAliveLease(
          this.transport,
          this.id,
          AbortSignal.any([this.stop.signal, AbortSignal.timeout(left)]),
        );
        this.ttl = r.ttl;
        this.lastRenewedAtMs = Date.now();
        wait = Math.max(MIN_KEEPALIVE_INTERVAL_MS, (this.ttl * 1000) / 3);
      } catch (err) {
        if (this.end) return;
        if (isClientError(err, "lease_not_found")) {
          this.finish({ id: this.id, reason: "not_found", error: err });
          return;
        }
        if (isClientError(err, "closed")) {
          this.finish({ id: this.id, reason: "closed" });
          return;
        }
        wait = Math.min(KEEPALIVE_RETRY_MS, Math.max(0, this.lastRenewedAtMs + this.ttl * 1000 - Date.now()));
      }
    }
  }
}

/** `POST /v1/leases` body answer → id and ttl. */
export function decodeGrant(json: unknown): { id: number; ttl: number } {
  const o = obj(json, "lease grant");
  return { id: num(o, "id"), ttl: num(o, "ttl") };
}

/**
 * One keep-alive (retried like a read).
 * @returns the renewed TTL in seconds
 * @throws CairnClientError "lease_not_found", "aborted", retry errors
 */
export async function keepAliveLease(
  transport: Transport,
  id: number,
  signal?: AbortSignal,
): Promise<{ id: number; ttl: number }> {
  const { json } = await transport.json({
    method: "POST",
    path: `/v1/leases/${id}/keepalive`,
    idempotent: true,
    what: `keep-alive of lease ${id.toString(16)}`,
    ...(signal ? { signal } : {}),
  });
  return decodeGrant(json);
}

/**
 * Revokes lease `id` (retried: a revoke answered lease_not_found after a retry whose first attempt
 * may have been applied counts as done).
 * @returns the store revision after the revoke (0 when it was revoked by the earlier attempt)
 * @throws CairnClientError "lease_not_found", retry errors
 */
export async function revokeLease(transport: Transport, id: number): Promise<number> {
  try {
    const { json } = await transport.json({
      method: "DELETE",
      path: `/v1/leases/${id}`,
      idempotent: true,
      what: `revoke of lease ${id.toString(16)}`,
    });
    return num(obj(json, "revoke"), "revision");
  } catch (err) {
    if (isClientError(err, "lease_not_found") && err.maybeAppliedEarlier) return 0;
    throw err;
  }
}

/** GET /v1/leases/{id}[?keys=true]. @throws CairnClientError "lease_not_found", retry errors */
export async function leaseTimeToLive(
  transport: Transport,
  id: number,
  keys: boolean,
): Promise<LeaseTimeToLive> {
  const { json } = await transport.json({
    method: "GET",
    path: `/v1/leases/${id}${keys ? "?keys=true" : ""}`,
    idempotent: true,
    what: `time-to-live of lease ${id.toString(16)}`,
  });
  const o = obj(json, "time-to-live");
  const out: LeaseTimeToLive = { id: num(o, "id"), ttl: num(o, "ttl"), grantedTtl: num(o, "granted_ttl") };
  if (Array.isArray(o.keys)) {
    out.keys =
      o.keys_encoding === "base64"
        ? o.keys.map((k) =>
            new TextDecoder().decode(Uint8Array.from(atob(String(k)), (c) => c.charCodeAt(0))),
          )
        : o.keys.map(String);
  }
  return out;
}
