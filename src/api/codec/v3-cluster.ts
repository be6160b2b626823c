/**
 * etcd JSON gateway codec of the Cluster service and Maintenance.MoveLeader, as etcd 3.4's
 * grpc-gateway writes them (jsonpb, OrigName, no EmitDefaults): fields in .proto order, uint64
 * as decimal strings, default-valued fields omitted. Shapes copied from a real etcd 3.4.23:
 *
 *   member/add     → {"header":{...},"member":{...},"members":[...]}
 *   member/remove, member/update, member/promote, member/list
 *                  → {"header":{...},"members":[...]}
 *   maintenance/transfer-leadership → {} (etcd 3.4 sets no header on MoveLeaderResponse)
 *
 * header: {"cluster_id","member_id","raft_term"} (no revision: etcd's cluster server fills only
 * these). member (etcdserverpb.Member): {"ID","name","peerURLs","clientURLs","isLearner"}, e.g.
 * an unstarted learner is {"ID":"6618016450193246086","peerURLs":["https://h:2380"],"isLearner":true}.
 * Ids are 16 hex digits inside Cairn and unsigned decimal on the gateway (converted with BigInt).
 */
import type { ClusterHeader, MemberChangeResult, MemberInfo } from "../../server/service.ts";
import { CairnError } from "../../util/errors.ts";
import { canonicalPeerUrls, withPeerUrlPrefix } from "../peer-urls.ts";
import { encodeHeader, hexToDecimal } from "./v3.ts";

type Json = Record<string, unknown>;

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * A uint64 id as etcd's gateway takes it (decimal string, or a JSON number that is a safe
 * integer) → 16 lowercase hex digits.
 * @returns the hex id, or undefined when `v` is not a uint64 (or a number past 2^53, which JSON
 *   parsing in JavaScript may have rounded)
 */
export function decimalIdToHex(v: string | number): string | undefined {
  let n: bigint;
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0) return undefined;
    n = BigInt(v);
  } else {
    if (!/^[0-9]{1,20}$/.test(v)) return undefined;
    n = BigInt(v);
    if (n > UINT64_MAX) return undefined;
  }
  return n.toString(16).padStart(16, "0");
}

/** etcd's message for bad peer URLs (etcdserver ErrGRPCMemberBadURLs). */
const BAD_URLS = "etcdserver: given member URLs are invalid";

/**
 * peerURLs of an add or update → canonical peer URLs (peer-urls.ts).
 * @throws CairnError "invalid_argument" with etcd's message and the broken rule after it
 */
export function decodePeerUrlsV3(urls: readonly string[] | undefined): string[] {
  return withPeerUrlPrefix(BAD_URLS, () => canonicalPeerUrls(urls ?? []));
}

/**
 * The id of a remove, update or promote; 0 (absent) names no member.
 * @throws CairnError "member_not_found" for 0
 */
export function requireMemberIdV3(id: string | undefined): string {
  if (id === undefined || /^0+$/.test(id)) throw new CairnError("member_not_found", "member 0 not found");
  return id;
}

/** etcdserverpb.Member. */
export function encodeMemberV3(m: MemberInfo): Json {
  const o: Json = { ID: hexToDecimal(m.id) };
  if (m.name) o.name = m.name;
  if (m.peerUrls.length) o.peerURLs = [...m.peerUrls];
  if (m.clientUrls.length) o.clientURLs = [...m.clientUrls];
  if (m.isLearner) o.isLearner = true;
  return o;
}

/** ResponseHeader of the Cluster service: cluster_id, member_id, raft_term. */
function clusterHeader(cluster: ClusterHeader): Json {
  return encodeHeader(cluster, 0);
}

/** MemberListResponse (and remove, update, promote): {"header","members"}. */
export function encodeMembersV3(cluster: ClusterHeader, members: readonly MemberInfo[]): Json {
  const o: Json = { header: clusterHeader(cluster) };
  if (members.length) o.members = members.map(encodeMemberV3);
  return o;
}

/** MemberAddResponse: {"header","member","members"}. */
export function encodeMemberAddV3(cluster: ClusterHeader, result: MemberChangeResult): Json {
  const o: Json = { header: clusterHeader(cluster) };
  if (result.member) o.member = encodeMemberV3(result.member);
  if (result.members.length) o.members = result.members.map(encodeMemberV3);
  return o;
}

/** MoveLeaderResponse: `{}` as etcd 3.4 answers it. */
export function encodeMoveLeaderV3(): Json {
  return {};
}
