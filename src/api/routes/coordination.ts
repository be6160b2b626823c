/**
 * Registers the lock and election routes (/v1/locks, /v1/elections, etcd's /v3/lock/*,
 * /v3/election/*) over one {@link LockService}, so that the waiter and observer limits are
 * per member whichever API is used.
 */
import type { Hono } from "hono";
import { LockService } from "../../server/locks.ts";
import type { ApiDeps } from "../deps.ts";
import { registerV1Elections } from "./v1-elections.ts";
import { registerV1Locks } from "./v1-locks.ts";
import { registerV3Election } from "./v3-election.ts";
import { registerV3Lock } from "./v3-lock.ts";

/**
 * @param locks the service to use; by default a new one over `deps.kv` with the limits of
 *   src/util/limits.ts (tests pass one with small limits)
 * @returns the service the routes use
 */
export function registerCoordination(
  app: Hono,
  deps: ApiDeps,
  locks = new LockService(deps.kv),
): LockService {
  registerV1Locks(app, deps, locks);
  registerV1Elections(app, deps, locks);
  registerV3Lock(app, deps, locks);
  registerV3Election(app, deps, locks);
  return locks;
}
