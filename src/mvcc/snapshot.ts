/**
 * The binary form of the whole MVCC state for a Raft snapshot (msgpack via msgpackr):
 *
 *   ["cairn-mvcc", 2, revision, compactRevision, keys, leases]
 *   keys    = [[key bin, entries], …] in ascending key order
 *   entries = [entry, …] in ascending revision order
 *   entry   = [modRevision, createRevision, version, value bin, lease, contentType | null]  (a put)
 *           | [modRevision]                                                           (a tombstone)
 *   leases  = [[id, ttl], …] in ascending id order (granted TTL in seconds)
 *
 * Which keys are attached to which lease is not stored: it is rebuilt from the keys (a live key's
 * newest put names its lease), as etcd re-attaches keys when it restores its mvcc store. Lease
 * expiry is not stored either (only the leader knows it; a new leader renews every lease).
 * Format 1 (the same without `leases`, from before leases existed) is still read: its keys'
 * lease ids attach to nothing.
 *
 * The layout depends only on the state, so equal states give equal bytes (replicas can compare
 * snapshots byte for byte).
 */
import { Packr } from "msgpackr";
import { invalidArgument } from "../util/errors.ts";
import { MAX_LEASE_TTL_SECONDS } from "../util/limits.ts";
import { type HistoryEntry, KeyHistory } from "./key-history.ts";
import { KeyIndex } from "./key-index.ts";
import { keyString } from "./keys.ts";
import { LeaseTable } from "./leases.ts";

const MAGIC = "cairn-mvcc";
const FORMAT_VERSION = 2;
/** The format before leases: no lease list, key lease ids attach to nothing. */
const FORMAT_VERSION_NO_LEASES = 1;

const packr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true });

/** The state a snapshot carries. */
export interface MvccState {
  index: KeyIndex;
  revision: number;
  compactRevision: number;
  leases: LeaseTable;
}

/** Serializes `state` (see the module comment for the layout). */
export function encodeSnapshot(state: MvccState): Uint8Array {
  const keys: unknown[] = [];
  for (const h of state.index.all()) {
    keys.push([
      h.key,
      h.entries.map((e) =>
        e.tombstone
          ? [e.modRevision]
          : [e.modRevision, e.createRevision, e.version, e.value, e.lease, e.contentType ?? null],
      ),
    ]);
  }
  const leases = state.leases.sorted().map((l) => [l.id, l.ttl]);
  return new Uint8Array(
    packr.pack([MAGIC, FORMAT_VERSION, state.revision, state.compactRevision, keys, leases]),
  );
}

function malformed(what: string): Error {
  return invalidArgument(`malformed mvcc snapshot: ${what}`);
}

function int(v: unknown, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw malformed(what);
  return v;
}

function bin(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw malformed(what);
  return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function parseEntry(v: unknown, revision: number): HistoryEntry {
  if (!Array.isArray(v)) throw malformed("entry is not a list");
  const modRevision = int(v[0], "modRevision", 1);
  if (modRevision > revision) throw malformed("entry newer than the store revision");
  if (v.length === 1) {
    return {
      modRevision,
      createRevision: 0,
      version: 0,
      value: new Uint8Array(0),
      lease: 0,
      contentType: undefined,
      tombstone: true,
    };
  }
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

function parseLeases(v: unknown): LeaseTable {
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
 * Rebuilds the state from {@link encodeSnapshot} output (format 2, or format 1 without leases),
 * checking every field and invariant (key order, revision order, a tombstone only after a put,
 * leases ascending, a live key's lease exists in format 2) and re-attaching keys to leases.
 * @throws CairnError("invalid_argument") when the bytes are not such a snapshot
 */
export function decodeSnapshot(data: Uint8Array): MvccState {
  let raw: unknown;
  try {
    raw = packr.unpack(data);
  } catch (err) {
    throw malformed((err as Error).message);
  }
  if (!Array.isArray(raw) || raw[0] !== MAGIC) throw malformed("not an mvcc snapshot");
  if (raw[1] !== FORMAT_VERSION && raw[1] !== FORMAT_VERSION_NO_LEASES) {
    throw malformed(`unknown format version ${String(raw[1])}`);
  }
  const withLeases = raw[1] === FORMAT_VERSION;
  if (raw.length !== (withLeases ? 6 : 5)) throw malformed("not an mvcc snapshot");
  const leases = withLeases ? parseLeases(raw[5]) : new LeaseTable();
  const revision = int(raw[2], "revision", 1);
  const compactRevision = int(raw[3], "compactRevision", 0);
  if (compactRevision > revision) throw malformed("compactRevision after revision");
  const keys = raw[4];
  if (!Array.isArray(keys)) throw malformed("keys is not a list");
  const index = new KeyIndex();
  let prevKey: string | undefined;
  for (const item of keys) {
    if (!Array.isArray(item) || item.length !== 2 || !Array.isArray(item[1])) throw malformed("key record");
    const key = bin(item[0], "key");
    if (key.length === 0) throw malformed("empty key");
    const k = keyString(key);
    if (prevKey !== undefined && k <= prevKey) throw malformed("keys out of order");
    prevKey = k;
    const h = new KeyHistory(key);
    for (const rawEntry of item[1]) {
      const e = parseEntry(rawEntry, revision);
      const last = h.latest;
      if (last !== undefined && last.modRevision >= e.modRevision) throw malformed("revisions out of order");
      if (e.tombstone && (last === undefined || last.tombstone)) throw malformed("tombstone without a put");
      h.entries.push(e);
    }
    if (h.entries.length === 0) throw malformed("key without history");
    index.insertRestored(k, h);
    const latest = h.latest!;
    if (!latest.tombstone && latest.lease !== 0) {
      if (leases.has(latest.lease)) leases.attach(latest.lease, k);
      else if (withLeases) throw malformed("a key names a lease that does not exist");
    }
  }
  return { index, revision, compactRevision, leases };
}
