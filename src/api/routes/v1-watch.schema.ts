/**
 * zod schema of the query of GET /v1/watch, and its translation into a WatchRequest:
 * `key` (UTF-8 text), `prefix=true` or `range_end=…` (not both), `start_revision=N`,
 * `prev_kv=true`, `filters=noput,nodelete`, `progress_notify=true`. Booleans read as the /v1 kv
 * routes read them ("true"/"1"/"" → true, "false"/"0" → false); unknown parameters are refused.
 */
import { z } from "zod";
import type { WatchFilter, WatchRequest } from "../../mvcc/watch-request.ts";
import { invalidArgument } from "../../util/errors.ts";
import { NO_END, prefixRangeEnd, utf8 } from "../bytes.ts";
import { checkKey } from "../keys.ts";

const flag = z.enum(["true", "false", "1", "0", ""]).transform((v) => v === "true" || v === "1" || v === "");

const revision = z
  .string()
  .regex(/^[0-9]{1,16}$/, "expected a non-negative integer")
  .transform(Number)
  .refine(Number.isSafeInteger, "expected a non-negative integer");

const FILTERS: Record<string, WatchFilter> = { noput: "NOPUT", nodelete: "NODELETE" };

const filters = z.string().transform((text, ctx) => {
  const out: WatchFilter[] = [];
  for (const name of text.split(",").map((s) => s.trim().toLowerCase())) {
    const f = FILTERS[name];
    if (f === undefined) {
      ctx.issues.push({ code: "custom", message: "expected a list of noput, nodelete", input: text });
      return z.NEVER;
    }
    out.push(f);
  }
  return out;
});

/** The query of GET /v1/watch. */
export const watchQuerySchema = z.strictObject({
  key: z.string(),
  prefix: flag.optional(),
  range_end: z.string().optional(),
  start_revision: revision.optional(),
  prev_kv: flag.optional(),
  filters: filters.optional(),
  progress_notify: flag.optional(),
});

/** Parsed query of GET /v1/watch. */
export type WatchQuery = z.output<typeof watchQuerySchema>;

/**
 * The key range of a /v1 watch or long-poll: the key alone; with `prefix`, every key starting
 * with it (an empty key: every key); with `rangeEnd`, [key, rangeEnd) (an empty key: from the
 * first key). The same rules as GET /v1/kv's prefix and range_end.
 * @throws CairnError "invalid_argument" for prefix with range_end, or an empty key alone;
 *   "payload_too_large" for a key over MAX_KEY_BYTES
 */
export function watchRange(
  keyText: string,
  prefix: boolean,
  rangeEndText: string | undefined,
): { key: Uint8Array; rangeEnd?: Uint8Array } {
  const key = utf8(keyText);
  if (prefix && rangeEndText !== undefined) throw invalidArgument("use prefix=true or range_end, not both");
  if (!prefix && rangeEndText === undefined) {
    checkKey(key);
    return { key };
  }
  checkKey(key, "key", true);
  if (prefix)
    return key.length === 0 ? { key: NO_END, rangeEnd: NO_END } : { key, rangeEnd: prefixRangeEnd(key) };
  const rangeEnd = utf8(rangeEndText!);
  checkKey(rangeEnd, "range_end");
  return { key: key.length === 0 ? NO_END : key, rangeEnd };
}

/** The WatchRequest of a parsed query (start revision: the query's; Last-Event-ID is the route's). */
export function watchRequestOf(q: WatchQuery): WatchRequest {
  const req: WatchRequest = watchRange(q.key, q.prefix === true, q.range_end);
  if (q.start_revision) req.startRevision = q.start_revision;
  if (q.prev_kv) req.prevKv = true;
  if (q.filters?.length) req.filters = q.filters;
  if (q.progress_notify) req.progressNotify = true;
  return req;
}
