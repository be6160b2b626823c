/**
 * Range reads over the key index at one revision, with etcd's semantics
 * (etcd server/etcdserver/txn/range.go executeRange, mvcc kvstore_txn.go rangeKeys).
 */
import { compactedError, futureRevisionError } from "./errors.ts";
import { type HistoryEntry, type KeyHistory, toKeyValue } from "./key-history.ts";
import type { KeyIndex } from "./key-index.ts";
import { compareBytes, keyInterval } from "./keys.ts";
import type { KeyValue, RangeRequest, RangeResponse, SortOrder, SortTarget } from "./types.ts";

/**
 * The revision a read asked for, checked as etcd rangeKeys does: above `currentRevision` →
 * CairnError("future_revision"); <= 0 or absent → `currentRevision`; below `compactRevision` →
 * CairnError("compacted", …, {compactRevision}). Reading at the compacted revision itself works.
 */
export function resolveReadRevision(
  requested: number | undefined,
  currentRevision: number,
  compactRevision: number,
): number {
  const rev = requested ?? 0;
  if (rev > currentRevision) throw futureRevisionError(rev, currentRevision);
  if (rev <= 0) return currentRevision;
  if (rev < compactRevision) throw compactedError(compactRevision);
  return rev;
}

type Comparator = (a: KeyValue, b: KeyValue) => number;

const SORTERS: Record<SortTarget, Comparator> = {
  KEY: (a, b) => compareBytes(a.key, b.key),
  VERSION: (a, b) => a.version - b.version,
  CREATE: (a, b) => a.createRevision - b.createRevision,
  MOD: (a, b) => a.modRevision - b.modRevision,
  VALUE: (a, b) => compareBytes(a.value, b.value),
};

/**
 * The effective sort order (etcd executeRange): a target other than KEY with order NONE sorts
 * ascending; KEY ascending is the natural order and needs no sort.
 */
function effectiveOrder(order: SortOrder, target: SortTarget): SortOrder {
  if (target !== "KEY" && order === "NONE") return "ASCEND";
  if (target === "KEY" && order === "ASCEND") return "NONE";
  return order;
}

/**
 * Reads `req` at `readRevision` (already resolved, see {@link resolveReadRevision}).
 * - `count` = keys in the range at that revision; `more` = count > limit (limit > 0).
 * - `keysOnly`: values empty; `countOnly`: no kvs, only count.
 * - Sorting as etcd: collects the whole range, sorts (stable: ties stay in key order), then cuts to limit.
 * Visits only keys inside the range. Returned values are shared with the store: do not modify them.
 * @param headerRevision the revision for the response header (etcd: the current revision, not the read one)
 */
export function rangeAt(
  index: KeyIndex,
  req: RangeRequest,
  readRevision: number,
  headerRevision: number,
): RangeResponse {
  const limit = req.limit !== undefined && req.limit > 0 ? req.limit : 0;
  const target = req.sortTarget ?? "KEY";
  const order = effectiveOrder(req.sortOrder ?? "NONE", target);
  const collectAll = order !== "NONE" || limit === 0;
  const found: [KeyHistory, HistoryEntry][] = [];
  let count = 0;
  for (const h of index.histories(keyInterval(req.key, req.rangeEnd))) {
    const e = h.visibleAt(readRevision);
    if (e === undefined) continue;
    count++;
    if (!req.countOnly && (collectAll || found.length < limit)) found.push([h, e]);
  }
  let kvs = found.map(([h, e]) => toKeyValue(h.key, e, req.keysOnly === true));
  if (order !== "NONE") {
    const cmp = SORTERS[target];
    kvs.sort(order === "ASCEND" ? cmp : (a, b) => cmp(b, a));
  }
  if (limit > 0 && kvs.length > limit) kvs = kvs.slice(0, limit);
  return {
    header: { revision: headerRevision },
    kvs,
    more: !req.countOnly && limit > 0 && count > limit,
    count,
  };
}
