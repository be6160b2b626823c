/**
 * etcd JSON gateway encoding of watch responses (POST /v3/watch), as etcd 3.4's grpc-gateway
 * streams them: one JSON object per line, `{"result":WatchResponse}`, in the jsonpb style of
 * codec/v3.ts (fields in .proto order, int64 as strings, bytes base64, defaults omitted: a PUT
 * event has no "type", watch_id 0 is absent). Checked against etcd 3.4.23:
 *
 *   {"result":{"header":{…},"created":true}}
 *   {"result":{"header":{…,"revision":"3",…},"events":[{"kv":{…},"prev_kv":{…}}]}}
 *   {"result":{"header":{…},"events":[{"type":"DELETE","kv":{"key":"Zm9v","mod_revision":"4"}}]}}
 *   {"result":{"header":{…, no revision},"canceled":true,"compact_revision":"7"}}
 *   {"result":{"header":{…},"watch_id":"-1"}}            (answer to a progress_request)
 */
import type { WatchEvent } from "../../mvcc/types.ts";
import type { ClusterHeader } from "../../server/service.ts";
import { encodeHeader, encodeKv } from "./v3.ts";

type Json = Record<string, unknown>;

/** The fields of one etcdserverpb.WatchResponse (absent = default). */
export interface WatchResponseFields {
  /** Header revision; 0 leaves it out (etcd's compacted response has none). */
  revision: number;
  /** etcd watch_id (-1 answers a progress_request). */
  watchId: number;
  created?: boolean;
  canceled?: boolean;
  compactRevision?: number;
  cancelReason?: string;
  events?: readonly WatchEvent[];
}

/** mvccpb.Event: type only when DELETE (PUT is the default 0). */
export function encodeWatchEvent(e: WatchEvent): Json {
  const o: Json = {};
  if (e.type === "DELETE") o.type = "DELETE";
  o.kv = encodeKv(e.kv);
  if (e.prevKv) o.prev_kv = encodeKv(e.prevKv);
  return o;
}

/** One line of the /v3/watch stream: `{"result":WatchResponse}`. */
export function encodeWatchResponse(cluster: ClusterHeader, r: WatchResponseFields): Json {
  const o: Json = { header: encodeHeader(cluster, r.revision) };
  if (r.watchId) o.watch_id = String(r.watchId);
  if (r.created) o.created = true;
  if (r.canceled) o.canceled = true;
  if (r.compactRevision) o.compact_revision = String(r.compactRevision);
  if (r.cancelReason) o.cancel_reason = r.cancelReason;
  if (r.events?.length) o.events = r.events.map(encodeWatchEvent);
  return { result: o };
}
