/**
 * etcd's JSON gateway for runtime membership and leadership transfer (etcd 3.4 grpc-gateway
 * paths and shapes, see codec/v3-cluster.ts):
 *   POST /v3/cluster/member/add      {"peerURLs":[...],"isLearner":bool}
 *   POST /v3/cluster/member/remove   {"ID":"<uint64>"}
 *   POST /v3/cluster/member/update   {"ID":"<uint64>","peerURLs":[...]}
 *   POST /v3/cluster/member/list     {}
 *   POST /v3/cluster/member/promote  {"ID":"<uint64>"}
 *   POST /v3/maintenance/transfer-leadership {"targetID":"<uint64>"}
 * Changes and transfers run on the leader (another member forwards them, forward.ts); list is
 * served from this member's applied member table, as etcd 3.4 does. An empty body is the empty
 * message. Errors use the gateway's shape (errors.ts).
 */
import type { Context, Hono } from "hono";
import { readJsonBody } from "../body.ts";
import {
  decodePeerUrlsV3,
  encodeMemberAddV3,
  encodeMembersV3,
  encodeMoveLeaderV3,
  requireMemberIdV3,
} from "../codec/v3-cluster.ts";
import type { ApiDeps } from "../deps.ts";
import { onLeader } from "../forward.ts";
import {
  memberAddV3Schema,
  memberIdV3Schema,
  memberUpdateV3Schema,
  moveLeaderV3Schema,
} from "./v3-cluster.schema.ts";

/** An empty body is the empty protobuf message on etcd's gateway. */
const EMPTY_MESSAGE = Object.freeze({});

async function body(c: Context, deps: ApiDeps): Promise<unknown> {
  return readJsonBody(c, deps.maxRequestBytes, EMPTY_MESSAGE);
}

async function add(c: Context, deps: ApiDeps): Promise<Response> {
  const w = memberAddV3Schema.parse(await body(c, deps));
  const peerUrls = decodePeerUrlsV3(w.peerURLs);
  const result = await deps.cluster.memberAdd({ peerUrls, isLearner: w.isLearner === true });
  return c.json(encodeMemberAddV3(deps.kv.header(), result));
}

async function remove(c: Context, deps: ApiDeps): Promise<Response> {
  const id = requireMemberIdV3(memberIdV3Schema.parse(await body(c, deps)).ID);
  const result = await deps.cluster.memberRemove(id);
  return c.json(encodeMembersV3(deps.kv.header(), result.members));
}

async function update(c: Context, deps: ApiDeps): Promise<Response> {
  const w = memberUpdateV3Schema.parse(await body(c, deps));
  const id = requireMemberIdV3(w.ID);
  const peerUrls = decodePeerUrlsV3(w.peerURLs);
  const result = await deps.cluster.memberUpdate(id, peerUrls);
  return c.json(encodeMembersV3(deps.kv.header(), result.members));
}

async function promote(c: Context, deps: ApiDeps): Promise<Response> {
  const id = requireMemberIdV3(memberIdV3Schema.parse(await body(c, deps)).ID);
  const result = await deps.cluster.memberPromote(id);
  return c.json(encodeMembersV3(deps.kv.header(), result.members));
}

async function list(c: Context, deps: ApiDeps): Promise<Response> {
  await body(c, deps);
  return c.json(encodeMembersV3(deps.kv.header(), await deps.kv.members()));
}

async function moveLeader(c: Context, deps: ApiDeps): Promise<Response> {
  const target = requireMemberIdV3(moveLeaderV3Schema.parse(await body(c, deps)).targetID);
  await deps.cluster.moveLeader(target);
  return c.json(encodeMoveLeaderV3());
}

/** Registers the /v3/cluster/member/* and /v3/maintenance/transfer-leadership routes on `app`. */
export function registerV3Cluster(app: Hono, deps: ApiDeps): void {
  app.post(
    "/v3/cluster/member/add",
    onLeader(deps, (c) => add(c, deps)),
  );
  app.post(
    "/v3/cluster/member/remove",
    onLeader(deps, (c) => remove(c, deps)),
  );
  app.post(
    "/v3/cluster/member/update",
    onLeader(deps, (c) => update(c, deps)),
  );
  app.post(
    "/v3/cluster/member/promote",
    onLeader(deps, (c) => promote(c, deps)),
  );
  app.post("/v3/cluster/member/list", (c) => list(c, deps));
  app.post(
    "/v3/maintenance/transfer-leadership",
    onLeader(deps, (c) => moveLeader(c, deps)),
  );
}
