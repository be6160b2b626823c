/**
 * One lease keep-alive from whichever member a client reached. Only the leader knows when leases
 * expire, so only it renews them (etcd lessor: Renew on the primary; a follower forwards the
 * renew to the leader, etcd leasehttp). The streaming keep-alives (/v1 and /v3) call this once
 * per ping: on the leader it renews directly, on another member it sends the one-shot
 * `POST /v1/leases/{id}/keepalive` to the leader's client URL (marked forwarded, so it is never
 * forwarded twice) and returns the leader's answer.
 */
import type { ErrorCode } from "../util/errors.ts";
import { CairnError } from "../util/errors.ts";
import type { ApiDeps } from "./deps.ts";
import { FORWARD_TIMEOUT_MS, FORWARDED_HEADER } from "./forward.ts";

/** The renewed lease and its TTL in seconds. */
export interface KeepAliveResult {
  id: number;
  ttl: number;
}

/**
 * Renews lease `id` on the leader.
 * @throws CairnError "lease_not_found" (the lease does not exist or expired), and retryable
 *   errors: "no_leader" (none known, or it refuses connections), "leader_changed", "timeout"
 *   (no answer in time; the renewal may or may not have happened, which is harmless)
 */
export async function keepAliveOnce(deps: ApiDeps, id: number): Promise<KeepAliveResult> {
  if (deps.cluster.isLeader()) {
    const r = await deps.kv.leaseKeepAlive(id);
    return { id: r.id, ttl: r.ttl };
  }
  const urls = deps.cluster.leaderClientUrls();
  if (urls.length === 0) throw new CairnError("no_leader", "etcdserver: no leader");
  const deadline = AbortSignal.timeout(FORWARD_TIMEOUT_MS);
  let lastError: unknown;
  for (const base of urls) {
    let res: Response;
    try {
      res = await fetch(new URL(`/v1/leases/${id}/keepalive`, base), {
        method: "POST",
        headers: { [FORWARDED_HEADER]: "1" },
        signal: deadline,
      });
    } catch (err) {
      lastError = err;
      if (deadline.aborted) break;
      continue; // try the leader's next URL
    }
    const text = await res.text().catch(() => "");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CairnError(
        "timeout",
        `the leader at ${base} answered the keep-alive with HTTP ${res.status}`,
      );
    }
    if (res.ok) {
      const r = body as Partial<KeepAliveResult>;
      if (typeof r.id === "number" && typeof r.ttl === "number") return { id: r.id, ttl: r.ttl };
      throw new CairnError("timeout", `the leader at ${base} answered the keep-alive without id and ttl`);
    }
    const e = (body as { error?: { code?: unknown; message?: unknown } }).error;
    if (e && typeof e.code === "string" && typeof e.message === "string") {
      throw new CairnError(e.code as ErrorCode, e.message);
    }
    throw new CairnError("timeout", `the leader at ${base} answered the keep-alive with HTTP ${res.status}`);
  }
  throw new CairnError(
    deadline.aborted ? "timeout" : "no_leader",
    `the leader could not be reached for a keep-alive: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
  );
}
