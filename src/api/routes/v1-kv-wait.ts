/**
 * Long-poll for clients without streaming (issue 4 §2):
 *
 *   GET /v1/kv/{key}?wait=true[&after_revision=N][&prefix=true|&range_end=E][&prev_kv=true][&timeout_ms=T]
 *
 * Answers 200 `{"revision":R,"events":[event,…]}` (events as codec/v1-watch.ts) as soon as the
 * key (or range) has changes at revisions > N: whole revisions, at most MAX_LONG_POLL_EVENTS
 * events (one larger revision still whole), and R the revision through which the client has now
 * seen every change, so the next poll uses after_revision=R. At the timeout (default
 * DEFAULT_LONG_POLL_TIMEOUT_MS, at most MAX_LONG_POLL_TIMEOUT_MS) it answers the same with no
 * events and R = the member's current revision (or N if N is ahead). after_revision absent: from
 * now. N below the compact revision: 410 compacted with compact_revision (re-read, then poll
 * after the read's revision).
 */
import type { Context } from "hono";
import { compactedError } from "../../mvcc/errors.ts";
import type { WatchEvent } from "../../mvcc/types.ts";
import type { WatchMessage, WatchStream } from "../../mvcc/watcher.ts";
import { CairnError, invalidArgument } from "../../util/errors.ts";
import {
  DEFAULT_LONG_POLL_TIMEOUT_MS,
  MAX_LONG_POLL_EVENTS,
  MAX_LONG_POLL_TIMEOUT_MS,
} from "../../util/limits.ts";
import { eventToJson } from "../codec/v1-watch.ts";
import type { ApiDeps } from "../deps.ts";
import { boolParam, intParam } from "../query.ts";

/** Query parameters that only make sense with wait=true. */
export const WAIT_PARAMS = ["wait", "after_revision", "timeout_ms", "prev_kv"] as const;

/** GET /v1/kv parameters that a long-poll does not take. */
const READ_ONLY_PARAMS = [
  "rev",
  "consistency",
  "meta",
  "limit",
  "keys_only",
  "count_only",
  "sort_order",
  "sort_target",
];

/**
 * Checks the combination of long-poll parameters.
 * @returns true when the request is a long-poll (wait=true)
 * @throws CairnError "invalid_argument" for wait parameters without wait=true, or read
 *   parameters with it
 */
export function isLongPoll(q: Record<string, string>): boolean {
  const wait = boolParam(q.wait, "wait");
  if (!wait) {
    for (const name of WAIT_PARAMS) {
      if (name !== "wait" && q[name] !== undefined) throw invalidArgument(`${name} needs wait=true`);
    }
    return false;
  }
  for (const name of READ_ONLY_PARAMS) {
    if (q[name] !== undefined) throw invalidArgument(`${name} is not supported with wait=true`);
  }
  return true;
}

const TIMED_OUT = Symbol("timed out");

/** The first message of `stream`, or TIMED_OUT after `timeoutMs` / when `signal` aborts. */
async function firstMessage(
  stream: WatchStream,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<WatchMessage | undefined | typeof TIMED_OUT> {
  const next = stream.next();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
    onAbort = () => resolve(TIMED_OUT);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    const first = await Promise.race([next, timedOut]);
    if (first !== TIMED_OUT) return first;
    // Nothing buffered: ask for a progress notification; it answers the pending next().
    stream.requestProgress();
    return await next;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Serves one long-poll on the key range of a GET /v1/kv request.
 * @throws CairnError "compacted" (410), "invalid_argument", "stopped" (the member is stopping)
 */
export async function longPoll(
  c: Context,
  deps: ApiDeps,
  range: { key: Uint8Array; rangeEnd?: Uint8Array },
  q: Record<string, string>,
): Promise<Response> {
  const after = intParam(q.after_revision, "after_revision") ?? 0;
  const timeoutMs = intParam(q.timeout_ms, "timeout_ms") ?? DEFAULT_LONG_POLL_TIMEOUT_MS;
  if (timeoutMs > MAX_LONG_POLL_TIMEOUT_MS) {
    throw invalidArgument(`timeout_ms ${timeoutMs} is over the maximum of ${MAX_LONG_POLL_TIMEOUT_MS}`);
  }
  const stream = deps.kv.watch({
    ...range,
    ...(after > 0 ? { startRevision: after + 1 } : {}),
    prevKv: boolParam(q.prev_kv, "prev_kv"),
  });
  try {
    let m = await firstMessage(stream, timeoutMs, c.req.raw.signal);
    const events: WatchEvent[] = [];
    let revision = Math.max(after, stream.startRevision - 1);
    while (m !== undefined && m !== TIMED_OUT) {
      if (m.kind === "compacted") throw compactedError(m.compactRevision);
      if (m.kind === "cancelled") throw new CairnError("stopped", m.reason);
      if (m.kind === "events" && events.length > 0 && events.length + m.events.length > MAX_LONG_POLL_EVENTS)
        break;
      if (m.kind === "events") events.push(...m.events);
      revision = Math.max(revision, m.revision);
      if (m.kind === "progress") break;
      m = stream.poll();
      if (m === undefined) {
        stream.requestProgress(); // nothing more now: learn the revision seen through
        m = stream.poll();
      }
    }
    return c.json({ revision, events: events.map(eventToJson) });
  } finally {
    stream.close();
  }
}
