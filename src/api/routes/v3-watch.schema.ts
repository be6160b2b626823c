/**
 * zod schemas of the requests of etcd's gateway POST /v3/watch (etcdserverpb.WatchRequest,
 * api/etcdserverpb/rpc.proto), read like the other gateway bodies (v3-kv.schema.ts): snake_case,
 * bytes base64, int64 as number or string, enums by name or number, unknown fields ignored.
 * A WatchRequest is a oneof: create_request, cancel_request or progress_request.
 */
import { z } from "zod";
import type { WatchFilter, WatchRequest } from "../../mvcc/watch-request.ts";
import { invalidArgument } from "../../util/errors.ts";
import { checkKey } from "../keys.ts";
import { bytes, int64, protoEnum } from "./v3-kv.schema.ts";

const FILTERS: readonly WatchFilter[] = ["NOPUT", "NODELETE"];

/** etcdserverpb.WatchCreateRequest. */
export const watchCreateSchema = z.object({
  key: bytes.optional(),
  range_end: bytes.optional(),
  start_revision: int64.optional(),
  progress_notify: z.boolean().optional(),
  filters: z.array(protoEnum(FILTERS)).optional(),
  prev_kv: z.boolean().optional(),
  watch_id: int64.optional(),
  fragment: z.boolean().optional(),
});

/** etcdserverpb.WatchRequest. */
export const watchRequestSchema = z.object({
  create_request: watchCreateSchema.optional(),
  cancel_request: z.object({ watch_id: int64.optional() }).optional(),
  progress_request: z.object({}).optional(),
});

/** Parsed WatchCreateRequest JSON. */
export type WatchCreateWire = z.output<typeof watchCreateSchema>;
/** Parsed WatchRequest JSON. */
export type WatchRequestWire = z.output<typeof watchRequestSchema>;

/**
 * WatchCreateRequest JSON → WatchRequest (etcd's key rules: range_end "\0" = every key >= key;
 * an empty key needs a range end here).
 * @throws CairnError "invalid_argument" / "payload_too_large" for bad keys
 */
export function decodeWatchCreate(w: WatchCreateWire): WatchRequest {
  const key = w.key ?? new Uint8Array(0);
  checkKey(key, "key", true);
  const req: WatchRequest = { key };
  if (w.range_end && w.range_end.length > 0) {
    checkKey(w.range_end, "range_end");
    req.rangeEnd = w.range_end;
  }
  if (key.length === 0 && !req.rangeEnd) throw invalidArgument("etcdserver: key is not provided");
  if (w.start_revision) req.startRevision = w.start_revision;
  if (w.prev_kv) req.prevKv = true;
  if (w.filters?.length) req.filters = w.filters;
  if (w.progress_notify) req.progressNotify = true;
  return req;
}
