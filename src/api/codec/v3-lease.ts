/**
 * etcd JSON gateway codec of the Lease service, as etcd 3.4's grpc-gateway writes it (jsonpb,
 * OrigName, no EmitDefaults): fields in .proto order, int64 as decimal strings, default-valued
 * fields omitted. The proto field names are upper case (ID, TTL) except grantedTTL and keys.
 * Shapes copied from a real etcd 3.4.23:
 *
 *   lease/grant       → {"header":{…},"ID":"1234","TTL":"60"}
 *   lease/revoke      → {"header":{…}}
 *   lease/keepalive   → one line per request: {"result":{"header":{…},"ID":"1234","TTL":"60"}};
 *                       an unknown lease: {"result":{"header":{…},"ID":"1234"}} (TTL 0, omitted)
 *   lease/timetolive  → {"header":{…},"ID":"1234","TTL":"57","grantedTTL":"60","keys":["YQ=="]};
 *                       an unknown lease: {"header":{…},"ID":"1234","TTL":"-1"} (HTTP 200)
 *   lease/leases      → {"header":{…},"leases":[{"ID":"1234"},…]}; none: {"header":{…}}
 *
 * header: {"cluster_id","member_id","revision","raft_term"} of the member that answers.
 */
import type { ClusterHeader, LeaseTimeToLiveResponse } from "../../server/service.ts";
import { toBase64 } from "../bytes.ts";
import { encodeHeader } from "./v3.ts";

type Json = Record<string, unknown>;

/** Sets `o[name]` to the decimal string of `v` unless it is 0 (protobuf default, omitted). */
function int64(o: Json, name: string, v: number): Json {
  if (v !== 0) o[name] = String(v);
  return o;
}

/** LeaseGrantResponse JSON. */
export function encodeLeaseGrant(cluster: ClusterHeader, revision: number, id: number, ttl: number): Json {
  const o: Json = { header: encodeHeader(cluster, revision) };
  int64(o, "ID", id);
  return int64(o, "TTL", ttl);
}

/** LeaseRevokeResponse JSON (`{"header"}`). */
export function encodeLeaseRevoke(cluster: ClusterHeader, revision: number): Json {
  return { header: encodeHeader(cluster, revision) };
}

/** One LeaseKeepAliveResponse (TTL 0 = the lease does not exist, as etcd answers it). */
export function encodeLeaseKeepAlive(
  cluster: ClusterHeader,
  revision: number,
  id: number,
  ttl: number,
): Json {
  const o: Json = { header: encodeHeader(cluster, revision) };
  int64(o, "ID", id);
  return int64(o, "TTL", ttl);
}

/** LeaseTimeToLiveResponse JSON; `r` undefined = the lease does not exist (TTL -1, as etcd's v3rpc). */
export function encodeLeaseTimeToLive(
  cluster: ClusterHeader,
  revision: number,
  id: number,
  r: LeaseTimeToLiveResponse | undefined,
): Json {
  const o: Json = { header: encodeHeader(cluster, revision) };
  int64(o, "ID", id);
  if (r === undefined) return int64(o, "TTL", -1);
  int64(o, "TTL", r.ttl);
  int64(o, "grantedTTL", r.grantedTtl);
  if (r.keys && r.keys.length > 0) o.keys = r.keys.map(toBase64);
  return o;
}

/** LeaseLeasesResponse JSON: the ids ("leases" omitted when there is none). */
export function encodeLeaseLeases(cluster: ClusterHeader, revision: number, ids: readonly number[]): Json {
  const o: Json = { header: encodeHeader(cluster, revision) };
  if (ids.length > 0) o.leases = ids.map((id) => int64({}, "ID", id));
  return o;
}
