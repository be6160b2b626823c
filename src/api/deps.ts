/** What the API needs from its host (src/server assembles it; tests pass a single node). */
import type { ClusterService, KvService } from "../server/service.ts";
import type { ApiLogger } from "./errors.ts";

/**
 * Dependencies of {@link createApp} (src/api/app.ts).
 * - kv: the node's key-value service.
 * - cluster: runtime membership and leadership transfer (the same node).
 * - maxRequestBytes: largest request body accepted (`--max-request-bytes`, etcd default 1.5 MiB,
 *   src/util/limits.ts DEFAULT_MAX_REQUEST_BYTES); larger bodies get 413 and nothing is written.
 * - version: Cairn's package version, reported by GET /version and /v1/status.
 * - logger: pino-like; only unexpected (500) errors are logged.
 * - watchHeartbeatMs: interval of `: heartbeat` comments on idle SSE watch streams (default
 *   DEFAULT_WATCH_HEARTBEAT_MS, src/util/limits.ts); tests set it short.
 */
export interface ApiDeps {
  kv: KvService;
  cluster: ClusterService;
  maxRequestBytes: number;
  version: string;
  logger?: ApiLogger;
  watchHeartbeatMs?: number;
}
