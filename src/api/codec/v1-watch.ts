/**
 * JSON shapes of watches on the native /v1 API (SSE data of GET /v1/watch, long-poll answers of
 * GET /v1/kv/{key}?wait=true), in the /v1 style of codec/v1.ts: snake_case, keys and values as
 * UTF-8 text (base64 with "<field>_encoding" when not UTF-8), revisions as numbers.
 *
 *   event:    {"type":"PUT"|"DELETE","kv":KV,"prev_kv"?:KV}   (a DELETE's kv has no value)
 *   revision: {"revision":N,"events":[event,…]}               (one revision, never split)
 */
import type { RevisionEvents, WatchEvent } from "../../mvcc/types.ts";
import { type KvJson, kvToJson } from "./v1.ts";

/** JSON of one watch event. */
export interface WatchEventJson {
  type: "PUT" | "DELETE";
  kv: KvJson;
  prev_kv?: KvJson;
}

/** One watch event as /v1 JSON (prev_kv only when the event carries it, i.e. it was asked for). */
export function eventToJson(e: WatchEvent): WatchEventJson {
  const out: WatchEventJson = { type: e.type, kv: kvToJson(e.kv, e.type === "DELETE") };
  if (e.prevKv) out.prev_kv = kvToJson(e.prevKv);
  return out;
}

/** `{"revision","events"}` of one revision's events. */
export function revisionEventsToJson(r: RevisionEvents): { revision: number; events: WatchEventJson[] } {
  return { revision: r.revision, events: r.events.map(eventToJson) };
}
