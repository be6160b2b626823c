/**
 * The /v1 membership and leadership operations the CLI uses (`member add|remove|update|promote`,
 * `move-leader`), on top of {@link FailoverClient}. Any member takes them: one that is not the
 * leader forwards them to the leader. They are writes: the client moves to another endpoint only
 * when the change provably was not proposed (see http-client.ts).
 */
import {
  type MembersJson,
  MembersSchema,
  type MoveLeaderJson,
  MoveLeaderSchema,
  parseAnswer,
} from "./api-schemas.ts";
import type { FailoverClient } from "./http-client.ts";

function json(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

const JSON_HEADERS = { "content-type": "application/json" };

/**
 * POST /v1/cluster/members.
 * @param peerUrls the new member's peer URLs (https://host:port)
 * @returns the added member (`member`, unstarted) and the member list after the change
 */
export async function memberAdd(
  client: FailoverClient,
  peerUrls: readonly string[],
  isLearner: boolean,
): Promise<MembersJson> {
  const res = await client.request({
    method: "POST",
    path: "/v1/cluster/members",
    headers: JSON_HEADERS,
    body: json({ peer_urls: peerUrls, is_learner: isLearner }),
    kind: "write",
  });
  return parseAnswer(MembersSchema, res.body, "POST /v1/cluster/members");
}

/** DELETE /v1/cluster/members/{id} (id: 16 hex digits). @returns the member list after the change */
export async function memberRemove(client: FailoverClient, id: string): Promise<MembersJson> {
  const path = `/v1/cluster/members/${id}`;
  const res = await client.request({ method: "DELETE", path, kind: "write" });
  return parseAnswer(MembersSchema, res.body, `DELETE ${path}`);
}

/** PUT /v1/cluster/members/{id} with new peer URLs. @returns the member list after the change */
export async function memberUpdate(
  client: FailoverClient,
  id: string,
  peerUrls: readonly string[],
): Promise<MembersJson> {
  const path = `/v1/cluster/members/${id}`;
  const res = await client.request({
    method: "PUT",
    path,
    headers: JSON_HEADERS,
    body: json({ peer_urls: peerUrls }),
    kind: "write",
  });
  return parseAnswer(MembersSchema, res.body, `PUT ${path}`);
}

/** POST /v1/cluster/members/{id}/promote. @returns the member list after the change */
export async function memberPromote(client: FailoverClient, id: string): Promise<MembersJson> {
  const path = `/v1/cluster/members/${id}/promote`;
  const res = await client.request({ method: "POST", path, kind: "write" });
  return parseAnswer(MembersSchema, res.body, `POST ${path}`);
}

/** POST /v1/cluster/move-leader: resolves once `targetId` leads. @returns new and previous leader */
export async function moveLeader(client: FailoverClient, targetId: string): Promise<MoveLeaderJson> {
  const res = await client.request({
    method: "POST",
    path: "/v1/cluster/move-leader",
    headers: JSON_HEADERS,
    body: json({ target_id: targetId }),
    kind: "write",
  });
  return parseAnswer(MoveLeaderSchema, res.body, "POST /v1/cluster/move-leader");
}
