/**
 * The MVCC snapshot format of Cairn before snapshots were streamed: one msgpack value
 *
 *   ["cairn-mvcc", 2, revision, compactRevision, keys, leases]
 *   keys    = [[key bin, entries], …] in ascending key order
 *   entries = [entry, …] in ascending revision order (EntryRecord, snapshot-records.ts)
 *   leases  = [[id, ttl], …] in ascending id order (granted TTL in seconds)
 *
 * and format 1, the same without `leases` (from before leases existed; its keys' lease ids attach
 * to nothing). Only read, so that snapshot files written by earlier versions still restore; new
 * snapshots use the streamed format (snapshot.ts).
 */
import { Packr } from "msgpackr";
import { KeyIndex } from "./key-index.ts";
import { LeaseTable } from "./leases.ts";
import type { MvccState } from "./snapshot.ts";
import { HistoryBuilder, int, malformed, parseLeases } from "./snapshot-records.ts";

const MAGIC = "cairn-mvcc";
const FORMAT_VERSION = 2;
const FORMAT_VERSION_NO_LEASES = 1;

const packr = new Packr({ useRecords: false, copyBuffers: true, mapsAsObjects: true });

/** True when `data` starts like a legacy snapshot (a msgpack fixarray of 5 or 6 items). */
export function isLegacySnapshot(data: Uint8Array): boolean {
  return data[0] === 0x95 || data[0] === 0x96;
}

/**
 * Rebuilds the state from a format 1 or 2 snapshot, checking every field and invariant and
 * re-attaching keys to leases.
 * @throws CairnError("invalid_argument") when the bytes are not such a snapshot
 */
export function decodeLegacySnapshot(data: Uint8Array): MvccState {
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
  const builder = new HistoryBuilder(revision, (k, h) => {
    index.insertRestored(k, h);
    const latest = h.latest!;
    if (!latest.tombstone && latest.lease !== 0) {
      if (leases.has(latest.lease)) leases.attach(latest.lease, k);
      else if (withLeases) throw malformed("a key names a lease that does not exist");
    }
  });
  for (const item of keys) builder.add(item, false);
  builder.flush();
  return { index, revision, compactRevision, leases };
}
