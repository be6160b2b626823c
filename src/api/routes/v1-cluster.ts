/**
 * Cluster routes: GET /v1/status (etcd `endpoint status`, plus what history holds in memory:
 * history_entries, history_bytes (an estimate), keys, leases, with compact_revision; compaction
 * bounds the first two), GET /v1/cluster/members
 * (`member list`: {"cluster_id","members":[{"id","name","peer_urls","client_urls","is_learner",
 * "started"}]}, codec/members.ts; changes are in v1-members.ts), GET /health (etcd's /health
 * shape) and GET /version (etcd's /version shape plus Cairn's own version).
 */
import type { Hono } from "hono";
import { membersToJson } from "../codec/members.ts";
import type { ApiDeps } from "../deps.ts";

/** etcd version Cairn's API is compatible with, reported by /version like etcd does. */
export const ETCD_COMPAT_VERSION = "3.4.0";

/** Registers /v1/status, /v1/cluster/members, /health and /version on `app`. */
export function registerV1Cluster(app: Hono, deps: ApiDeps): void {
  app.get("/v1/status", async (c) => {
    const s = await deps.kv.status();
    return c.json({
      cluster_id: s.clusterId,
      member_id: s.memberId,
      name: s.name,
      version: s.version,
      leader: s.leader,
      is_leader: s.isLeader,
      is_learner: s.isLearner,
      raft_term: s.raftTerm,
      raft_index: s.raftIndex,
      commit_index: s.commitIndex,
      applied_index: s.appliedIndex,
      revision: s.revision,
      compact_revision: s.compactRevision,
      history_entries: s.historyEntries,
      history_bytes: s.historyBytes,
      keys: s.keyCount,
      leases: s.leaseCount,
      db_size: s.dbSizeBytes,
      errors: s.errors,
    });
  });

  app.get("/v1/cluster/members", async (c) => {
    const members = await deps.kv.members();
    return c.json(membersToJson(deps.kv.header().clusterId, { members }));
  });

  app.get("/health", async (c) => {
    let result: { health: boolean; reason?: string };
    try {
      result = await deps.kv.health();
    } catch (err) {
      result = { health: false, reason: err instanceof Error ? err.message : String(err) };
    }
    if (result.health) return c.json({ health: "true" });
    return c.json({ health: "false", reason: result.reason ?? "unhealthy" }, 503);
  });

  app.get("/version", (c) =>
    c.json({ etcdserver: ETCD_COMPAT_VERSION, etcdcluster: ETCD_COMPAT_VERSION, cairn: deps.version }),
  );
}
