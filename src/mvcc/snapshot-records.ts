/**
 * Validation of the records an MVCC snapshot is made of (both formats, snapshot.ts and
 * snapshot-legacy.ts): history entries, lease records, key histories. Every check failure is a
 * CairnError("invalid_argument") naming what is wrong, so a damaged snapshot never half-restores.
 */
import { invalidArgument } from "../util/errors.ts";
import { MAX_LEASE_TTL_SECONDS } from "../util/limits.ts";
import { type HistoryEntry, KeyHistory, tombstoneEntry } from "./key-history.ts";
import { keyString } from "./keys.ts";
import { LeaseTable } from "./leases.ts";

/** The error of a snapshot that is not well formed. */
export function malformed(what: string): Error {
  return invalidArgument(`malformed mvcc snapshot: ${what}`);
}

/** `v` as a safe integer >= `min`. @throws CairnError("invalid_argument") otherwise */
export function int(v: unknown, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw malformed(what);
  return v;
}

/** `v` as a plain Uint8Array (a Buffer is re-viewed, not copied). @throws CairnError("invalid_argument") otherwise */
export function bin(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw malformed(what);
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** A history entry as stored: `[modRevision]` (tombstone) or the six fields of a put. */
export type EntryRecord = [number] | [number, number, number, Uint8Array, number, string | null];

/** The record of `e` (see {@link EntryRecord}). */
export function entryRecord(e: HistoryEntry): EntryRecord {
  return e.tombstone
    ? [e.modRevision]
    : [e.modRevision, e.createRevision, e.version, e.value, e.lease, e.contentType ?? null];
}

/**
 * Parses an {@link EntryRecord} of a store at `revision`.
 * @throws CairnError("invalid_argument") on a malformed record or one newer than `revision`
 */
export function parseEntry(v: unknown, revision: number): HistoryEntry {
  if (!Array.isArray(v)) throw malformed("entry is not a list");
  const modRevision = int(v[0], "modRevision", 1);
  if (modRevision > revision) throw malformed("entry newer than the store revision");
  if (v.length === 1) return tombstoneEntry(modRevision);
  if (v.length !== 6) throw malformed("entry has the wrong length");
  const createRevision = int(v[1], "createRevision", 1);
  if (createRevision > modRevision) throw malformed("createRevision after modRevision");
  const contentType = v[5];
  if (contentType !== null && typeof contentType !== "string") throw malformed("contentType");
  return {
    modRevision,
    createRevision,
    version: int(v[2], "version", 1),
    value: bin(v[3], "value"),
    lease: int(v[4], "lease", 0),
    contentType: contentType ?? undefined,
    tombstone: false,
  };
}

/**
 * Parses `[[id, ttl], …]` (ascending ids) into a lease table without keys.
 * @throws CairnError("invalid_argument") on a malformed list, ids out of order, a TTL too large
 */
export function parseLeases(v: unknown): LeaseTable {
  if (!Array.isArray(v)) throw malformed("leases is not a list");
  const table = new LeaseTable();
  let prevId = 0;
  for (const item of v) {
    if (!Array.isArray(item) || item.length !== 2) throw malformed("lease record");
    const id = int(item[0], "lease id", 1);
    const ttl = int(item[1], "lease ttl", 1);
    if (id <= prevId) throw malformed("leases out of order");
    if (ttl > MAX_LEASE_TTL_SECONDS) throw malformed("lease ttl too large");
    prevId = id;
    table.grant(id, ttl);
  }
  return table;
}

/**
 * Builds key histories from key records in ascending key order, checking every invariant (key
 * order, revision order, a tombstone only after a put). A record with the same key as the one
 * before continues that key's history (the streamed format splits a long history across frames).
 */
export class HistoryBuilder {
  private current: KeyHistory | null = null;
  /** The last key seen ("" before the first: keys are never empty). */
  private currentKey = "";

  /**
   * @param revision the store revision (no entry may be newer)
   * @param onKey called with each key's complete history, in key order
   */
  constructor(
    private readonly revision: number,
    private readonly onKey: (k: string, h: KeyHistory) => void,
  ) {}

  /**
   * Adds one record `[key bin, [entry record, …]]`.
   * @param allowContinue whether a record may repeat the previous key (streamed format only)
   * @throws CairnError("invalid_argument") when a record or an invariant is broken
   */
  add(item: unknown, allowContinue: boolean): void {
    if (!Array.isArray(item) || item.length !== 2 || !Array.isArray(item[1])) throw malformed("key record");
    const key = bin(item[0], "key");
    if (key.length === 0) throw malformed("empty key");
    const k = keyString(key);
    let h = this.current;
    if (h !== null && k === this.currentKey) {
      if (!allowContinue) throw malformed("keys out of order");
    } else {
      if (this.currentKey !== "" && k <= this.currentKey) throw malformed("keys out of order");
      this.flush();
      h = new KeyHistory(key);
      this.current = h;
      this.currentKey = k;
    }
    for (const rawEntry of item[1]) {
      const e = parseEntry(rawEntry, this.revision);
      const last = h.latest;
      if (last !== undefined && last.modRevision >= e.modRevision) throw malformed("revisions out of order");
      if (e.tombstone && (last === undefined || last.tombstone)) throw malformed("tombstone without a put");
      h.entries.push(e);
    }
  }

  /** Hands over the last key. Call once after the last record. */
  flush(): void {
    const h = this.current;
    if (h === null) return;
    if (h.entries.length === 0) throw malformed("key without history");
    this.onKey(this.currentKey, h);
    this.current = null;
  }
}
