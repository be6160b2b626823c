/**
 * JSON of members on the native /v1 API (snake_case, etcd's field names, ids as 16 lowercase
 * hex digits as Cairn writes them everywhere):
 *   member: {"id","name","peer_urls","client_urls","is_learner","started"}
 *   membership answer: {"cluster_id","member"?,"members":[member...]}
 * `name` is "" and `client_urls` [] until the member has started (`started` false), as etcdctl's
 * `member list` shows an unstarted member.
 */
import type { MemberChangeResult, MemberInfo } from "../../server/service.ts";
import { invalidArgument } from "../../util/errors.ts";

/** One member as /v1 JSON. */
export interface MemberJson {
  id: string;
  name: string;
  peer_urls: string[];
  client_urls: string[];
  is_learner: boolean;
  started: boolean;
}

/** Answer of GET /v1/cluster/members and of every membership change. */
export interface MembersJson {
  cluster_id: string;
  /** The member concerned (present after an add). */
  member?: MemberJson;
  /** The member list (after the change), sorted by id. */
  members: MemberJson[];
}

/** A member id on /v1: 16 lowercase hex digits. */
export const MEMBER_ID_PATTERN = /^[0-9a-f]{16}$/;

/**
 * One member as /v1 JSON. `started` falls back to "has a name" for a member list that does not
 * say (etcdctl's rule).
 */
export function memberToJson(m: MemberInfo): MemberJson {
  return {
    id: m.id,
    name: m.name,
    peer_urls: [...m.peerUrls],
    client_urls: [...m.clientUrls],
    is_learner: m.isLearner,
    started: typeof m.started === "boolean" ? m.started : m.name !== "",
  };
}

/** A member list (or the result of a change) as /v1 JSON. */
export function membersToJson(clusterId: string, result: MemberChangeResult): MembersJson {
  const out: MembersJson = { cluster_id: clusterId, members: result.members.map(memberToJson) };
  if (result.member) out.member = memberToJson(result.member);
  return out;
}

/**
 * Checks a member id given on /v1 (path segment or body field).
 * @param label what to call it in the error, e.g. "member id" or "target_id"
 * @returns the id unchanged
 * @throws CairnError "invalid_argument" unless it is 16 lowercase hex digits, not all zero
 */
export function checkMemberIdV1(label: string, id: string): string {
  if (!MEMBER_ID_PATTERN.test(id) || id === "0000000000000000") {
    throw invalidArgument(
      `${label} "${id.length > 40 ? `${id.slice(0, 40)}...` : id}" is not a member id (16 lowercase hex digits, as member list shows it)`,
    );
  }
  return id;
}
