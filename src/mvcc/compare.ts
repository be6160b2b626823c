/**
 * Txn compares (etcd server/etcdserver/txn/txn.go applyCompare / compareKV).
 */
import type { HistoryEntry } from "./key-history.ts";
import type { KeyIndex } from "./key-index.ts";
import { compareBytes, keyInterval } from "./keys.ts";
import type { Compare } from "./types.ts";

/** A missing key compares as etcd's zero KeyValue: version, revisions and lease 0. */
const MISSING: HistoryEntry = {
  modRevision: 0,
  createRevision: 0,
  version: 0,
  value: new Uint8Array(0),
  lease: 0,
  contentType: undefined,
  tombstone: false,
};

/** Compares one key's state with the compare's operand (absent operand = 0 / empty). */
function compareEntry(c: Compare, e: HistoryEntry): boolean {
  let diff: number;
  switch (c.target) {
    case "VALUE":
      diff = compareBytes(e.value, c.value ?? new Uint8Array(0));
      break;
    case "VERSION":
      diff = e.version - (c.version ?? 0);
      break;
    case "CREATE":
      diff = e.createRevision - (c.createRevision ?? 0);
      break;
    case "MOD":
      diff = e.modRevision - (c.modRevision ?? 0);
      break;
    case "LEASE":
      diff = e.lease - (c.lease ?? 0);
      break;
  }
  switch (c.result) {
    case "EQUAL":
      return diff === 0;
    case "NOT_EQUAL":
      return diff !== 0;
    case "GREATER":
      return diff > 0;
    case "LESS":
      return diff < 0;
  }
}

/**
 * Evaluates one compare at `revision`. With a range (rangeEnd, [0x00] = to the end) every key in it
 * must satisfy the compare. When no key matches: VALUE compares are false (etcd: "no way to represent
 * missing value"); other targets compare the zero KeyValue (so `version = 0` tests "key absent").
 */
export function evaluateCompare(index: KeyIndex, c: Compare, revision: number): boolean {
  let any = false;
  for (const h of index.histories(keyInterval(c.key, c.rangeEnd))) {
    const e = h.visibleAt(revision);
    if (e === undefined) continue;
    any = true;
    if (!compareEntry(c, e)) return false;
  }
  if (any) return true;
  return c.target !== "VALUE" && compareEntry(c, MISSING);
}

/** True when every compare holds at `revision` (an empty list holds). */
export function evaluateCompares(index: KeyIndex, compares: Compare[], revision: number): boolean {
  return compares.every((c) => evaluateCompare(index, c, revision));
}
