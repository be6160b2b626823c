/**
 * etcd JSON gateway codec of the Lock and Election services, as etcd 3.4's grpc-gateway writes
 * them (jsonpb, OrigName, no EmitDefaults: defaults omitted, int64 as strings, bytes base64).
 * Shapes copied from a real etcd 3.4.23:
 *
 *   lock/lock          → {"header":{…},"key":"bXlsb2NrLzM5MGRhMjFjNTE0MTYwMDU="}
 *   lock/unlock        → {"header":{…}}
 *   election/campaign  → {"header":{…},"leader":{"name":"ZWw=","key":"ZWwvMzkw…","rev":"8","lease":"4111…"}}
 *   election/proclaim  → {"header":{…}}
 *   election/leader    → {"header":{…},"kv":{"key","create_revision","mod_revision","version","value","lease"}}
 *   election/observe   → one {"result":LeaderResponse} line per leader change or proclaim
 *   election/resign    → {"header":{…}}
 */
import type { KeyValue } from "../../mvcc/types.ts";
import type { LeaderKey } from "../../server/locks.ts";
import type { ClusterHeader } from "../../server/service.ts";
import { toBase64 } from "../bytes.ts";
import { encodeHeader, encodeKv } from "./v3.ts";

type Json = Record<string, unknown>;

/** `{"header"}` alone (UnlockResponse, ProclaimResponse, ResignResponse). */
export function encodeHeaderOnly(cluster: ClusterHeader, revision: number): Json {
  return { header: encodeHeader(cluster, revision) };
}

/** LockResponse. */
export function encodeLock(cluster: ClusterHeader, revision: number, key: Uint8Array): Json {
  const o: Json = { header: encodeHeader(cluster, revision) };
  if (key.length) o.key = toBase64(key);
  return o;
}

/** v3electionpb.LeaderKey. */
export function encodeLeaderKey(l: LeaderKey): Json {
  const o: Json = {};
  if (l.name.length) o.name = toBase64(l.name);
  if (l.key.length) o.key = toBase64(l.key);
  if (l.rev) o.rev = String(l.rev);
  if (l.lease) o.lease = String(l.lease);
  return o;
}

/** CampaignResponse. */
export function encodeCampaign(cluster: ClusterHeader, revision: number, leader: LeaderKey): Json {
  return { header: encodeHeader(cluster, revision), leader: encodeLeaderKey(leader) };
}

/** LeaderResponse (election/leader, and each result of election/observe). */
export function encodeLeader(cluster: ClusterHeader, revision: number, kv: KeyValue): Json {
  return { header: encodeHeader(cluster, revision), kv: encodeKv(kv) };
}
