/**
 * Runtime membership and leadership transfer on the native /v1 API (etcd's MemberAdd,
 * MemberRemove, MemberUpdate, MemberPromote and MoveLeader). Every route here runs on the
 * leader: another member forwards the request (forward.ts). Bodies are validated before
 * anything is proposed, so a bad request changes nothing.
 *
 *   POST   /v1/cluster/members               {"peer_urls":[...],"is_learner":false}
 *                                            → 201 {"cluster_id","member":{...},"members":[...]}
 *   DELETE /v1/cluster/members/{id}          → 200 {"cluster_id","members":[...]}
 *   PUT    /v1/cluster/members/{id}          {"peer_urls":[...]} → 200 {"cluster_id","members":[...]}
 *   POST   /v1/cluster/members/{id}/promote  → 200 {"cluster_id","members":[...]}
 *   POST   /v1/cluster/move-leader           {"target_id":"<16 hex>"}
 *                                            → 200 {"leader":"<target>","previous_leader":"<id>"}
 *
 * Member JSON: codec/members.ts. Errors (errors.ts): 400 invalid_argument, 404
 * member_not_found, 409 member_exists / conf_change_pending / learner_not_ready /
 * unhealthy_cluster, 503 no_leader / leader_changed / timeout.
 */
import type { Context, Hono } from "hono";
import { readJsonBody } from "../body.ts";
import { checkMemberIdV1, membersToJson } from "../codec/members.ts";
import type { ApiDeps } from "../deps.ts";
import { onLeader } from "../forward.ts";
import { memberAddSchema, memberUpdateSchema, moveLeaderSchema } from "./v1-members.schema.ts";

function pathId(c: Context): string {
  return checkMemberIdV1("member id", c.req.param("id") ?? "");
}

async function add(c: Context, deps: ApiDeps): Promise<Response> {
  const body = memberAddSchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const result = await deps.cluster.memberAdd({
    peerUrls: body.peer_urls,
    isLearner: body.is_learner ?? false,
  });
  return c.json(membersToJson(deps.kv.header().clusterId, result), 201);
}

async function remove(c: Context, deps: ApiDeps): Promise<Response> {
  const result = await deps.cluster.memberRemove(pathId(c));
  return c.json(membersToJson(deps.kv.header().clusterId, result));
}

async function update(c: Context, deps: ApiDeps): Promise<Response> {
  const id = pathId(c);
  const body = memberUpdateSchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const result = await deps.cluster.memberUpdate(id, body.peer_urls);
  return c.json(membersToJson(deps.kv.header().clusterId, result));
}

async function promote(c: Context, deps: ApiDeps): Promise<Response> {
  const result = await deps.cluster.memberPromote(pathId(c));
  return c.json(membersToJson(deps.kv.header().clusterId, result));
}

async function moveLeader(c: Context, deps: ApiDeps): Promise<Response> {
  const { target_id } = moveLeaderSchema.parse(await readJsonBody(c, deps.maxRequestBytes));
  const previous = deps.kv.header().memberId;
  await deps.cluster.moveLeader(target_id);
  return c.json({ leader: target_id, previous_leader: previous });
}

/** Registers the /v1 membership and move-leader routes on `app` (each forwarded to the leader). */
export function registerV1Members(app: Hono, deps: ApiDeps): void {
  app.post(
    "/v1/cluster/members",
    onLeader(deps, (c) => add(c, deps)),
  );
  app.delete(
    "/v1/cluster/members/:id",
    onLeader(deps, (c) => remove(c, deps)),
  );
  app.put(
    "/v1/cluster/members/:id",
    onLeader(deps, (c) => update(c, deps)),
  );
  app.post(
    "/v1/cluster/members/:id/promote",
    onLeader(deps, (c) => promote(c, deps)),
  );
  app.post(
    "/v1/cluster/move-leader",
    onLeader(deps, (c) => moveLeader(c, deps)),
  );
}
