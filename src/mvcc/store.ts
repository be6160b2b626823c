/**
 * KvStore: Cairn's replicated key-value state machine with etcd v3 MVCC semantics
 * (etcd "KV API guarantees", api/etcdserverpb/rpc.proto, server/storage/mvcc).
 *
 * - One store revision, 1 for the empty store. A put, a delete that deletes something, or a txn that
 *   writes anything moves it up by exactly one; every write of that command carries the new revision
 *   (etcd's sub-revisions are not kept: one txn writes a key at most once, see txn-conflicts.ts).
 * - Per key: createRevision, modRevision, version (1 on create, +1 per put, history ended by a delete).
 *   Deletes leave tombstones so reads at older revisions still see older values.
 * - apply() is deterministic: no clock, no randomness, iteration only in key order. A failed command
 *   throws CairnError and changes nothing: every check runs before the first write.
 * - Watches: applyWithEvents() also returns the events of the write (one revision, key order), and
 *   watchHistory() replays retained history; the watch hub (watch-hub.ts) consumes both.
 * - Leases (etcd lessor, replicated half: leases.ts): grant and revoke are commands; a revoke deletes
 *   the lease's keys in one revision like any delete (DELETE events included). Expiry is decided by
 *   the leader from its clock and arrives here as a plain revoke, so apply never reads a clock.
 */
import { assert, unreachable } from "../util/assert.ts";
import { invalidArgument } from "../util/errors.ts";
import { MAX_LEASE_TTL_SECONDS } from "../util/limits.ts";
import {
  compactedError,
  futureRevisionError,
  leaseExistsError,
  leaseNotFoundError,
  leaseTtlTooLargeError,
} from "./errors.ts";
import { sortEventsByKey } from "./events.ts";
import { KeyIndex } from "./key-index.ts";
import type { KeyInterval } from "./keys.ts";
import { LEASE_OVERHEAD_BYTES, LeaseTable } from "./leases.ts";
import { rangeAt, resolveReadRevision } from "./range.ts";
import {
  encodeSnapshotFrames,
  MvccSnapshotDecoder,
  type MvccState,
  SnapshotFrameSplitter,
} from "./snapshot.ts";
import { decodeLegacySnapshot, isLegacySnapshot } from "./snapshot-legacy.ts";
import { checkPutTarget, checkTxnOps, txnPath } from "./txn-path.ts";
import type {
  Command,
  CommandResult,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseInfo,
  LeaseRevokeRequest,
  LeaseRevokeResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from "./types.ts";
import { validateDeleteRange, validatePut, validateRange, validateTxn } from "./validate.ts";
import { type HistoryBatch, readHistory } from "./watch-history.ts";
import { WriteContext } from "./write-context.ts";

/** A command's result and the watch events of its write. */
export interface AppliedCommand {
  result: CommandResult;
  /**
   * The events of the write, all at the store's new revision, sorted by key; empty when nothing
   * was written (a compaction, a delete that deleted nothing, a read-only txn).
   */
  events: WatchEvent[];
}

const NO_EVENTS: WatchEvent[] = [];

/** The frames of a snapshot, read lazily (see KvStore.snapshotReader). */
export interface SnapshotReader {
  /** Complete length-prefixed frames, each about SNAPSHOT_FRAME_TARGET_BYTES or less (one entry more at most). */
  frames: Generator<Uint8Array>;
  /** Releases the reader (idempotent); reading to the end releases it too. */
  close(): void;
}

/** Restores a store from snapshot frame payloads (see KvStore.restorer). */
export interface SnapshotRestorer {
  /** Handles the next frame's payload. @throws CairnError("invalid_argument") on a malformed frame */
  frame(payload: Uint8Array): void;
  /** Replaces the store's state. @throws CairnError("invalid_argument") when the end frame is missing */
  finish(): void;
}

export class KvStore {
  private index = new KeyIndex();
  private leaseTable = new LeaseTable();
  private currentRevision = 1;
  private compactedRevision = 0;
  /** The events of the write that ended last during the current applyWithEvents call. */
  private lastEvents: WatchEvent[] = NO_EVENTS;
  /** Snapshot readers not yet closed: while any is open, compaction only moves compactRevision. */
  private openSnapshotReaders = 0;
  /** Revision of a compaction applied while a snapshot reader was open, not yet done to the index (0: none). */
  private deferredCompaction = 0;

  /**
   * Applies one replicated command (a committed log entry's decoded data).
   * @returns the response matching `cmd.op`: PutResponse, DeleteRangeResponse, TxnResponse,
   *   CompactionResponse, LeaseGrantResponse or LeaseRevokeResponse
   * @throws CairnError "invalid_argument" (bad request, empty key, duplicate key in txn), "key_not_found"
   *   (ignoreValue/ignoreLease on a missing key), "compacted" / "future_revision" (compaction, or a range
   *   inside a txn, at such a revision), "lease_not_found" (put to, or revoke of, a missing lease),
   *   "lease_exists" / "lease_ttl_too_large" (grant). The store is unchanged when it throws.
   */
  apply(cmd: Command): CommandResult {
    return this.applyWithEvents(cmd).result;
  }

  /**
   * {@link apply}, also returning the watch events of the write (same result, same errors).
   * @returns the result and the events, see {@link AppliedCommand}
   */
  applyWithEvents(cmd: Command): AppliedCommand {
    this.lastEvents = NO_EVENTS;
    const result = this.dispatch(cmd);
    const events = this.lastEvents;
    this.lastEvents = NO_EVENTS;
    return { result, events };
  }

  /**
   * The retained events of keys in `iv` from `fromRevision` up to the current revision, in
   * bounded steps (watch-history.ts).
   * @param budgetBytes approximate bytes to read in this step (whole revisions; at least one)
   * @throws CairnError "compacted" (details.compactRevision) when `fromRevision` <= the compact
   *   revision: the history at and below it is incomplete (compaction drops tombstones and the
   *   entries prev_kv needs), so a replay from there could skip events. etcd accepts a watch from
   *   exactly the compact revision; Cairn refuses it rather than miss a delete.
   */
  watchHistory(iv: KeyInterval, fromRevision: number, budgetBytes: number): HistoryBatch {
    if (fromRevision <= this.compactedRevision) throw compactedError(this.compactedRevision);
    return readHistory(this.index, iv, fromRevision, this.currentRevision, budgetBytes);
  }

  private dispatch(cmd: Command): CommandResult {
    switch (cmd.op) {
      case "put":
        return this.put(cmd.req);
      case "deleteRange":
        return this.deleteRange(cmd.req);
      case "txn":
        return this.txn(cmd.req);
      case "compact":
        return this.compact(cmd.req);
      case "leaseGrant":
        return this.leaseGrant(cmd.req);
      case "leaseRevoke":
        return this.leaseRevoke(cmd.req);
      default:
        return unreachable(cmd, "unknown command");
    }
  }

  /**
   * Reads the local state (etcd Range).
   * @throws CairnError "invalid_argument", "future_revision" (revision > current), "compacted"
   *   (revision < compactRevision; details.compactRevision)
   */
  range(req: RangeRequest): RangeResponse {
    validateRange(req);
    const rev = resolveReadRevision(req.revision, this.currentRevision, this.compactedRevision);
    return rangeAt(this.index, req, rev, this.currentRevision);
  }

  /** The current store revision (1 for the empty store). */
  get revision(): number {
    return this.currentRevision;
  }

  /** The revision of the last compaction, 0 if never compacted. Reads below it fail with "compacted". */
  get compactRevision(): number {
    return this.compactedRevision;
  }

  /** Approximate bytes of memory held by keys and history (decreases on compaction). */
  get sizeBytes(): number {
    return this.index.sizeBytes;
  }

  /** History entries held (every retained put and tombstone); compaction lowers it. */
  get historyEntries(): number {
    return this.index.entryCount;
  }

  /** Approximate bytes held by the lease table (not counting keys, which sizeBytes counts). */
  get leaseBytes(): number {
    return this.leaseTable.size * LEASE_OVERHEAD_BYTES;
  }

  /** Number of leases. */
  get leaseCount(): number {
    return this.leaseTable.size;
  }

  /** True when lease `id` exists. */
  hasLease(id: number): boolean {
    return this.leaseTable.has(id);
  }

  /**
   * Lease `id` with its granted TTL and, with `withKeys`, its attached keys (sorted by bytes,
   * fresh arrays); undefined when it does not exist.
   */
  lease(id: number, withKeys = false): LeaseInfo | undefined {
    const l = this.leaseTable.get(id);
    if (l === undefined) return undefined;
    const keys = withKeys ? [...l.keys].sort().map((k) => new Uint8Array(Buffer.from(k, "latin1"))) : [];
    return { id: l.id, ttl: l.ttl, keys };
  }

  /** Every lease (id and granted TTL in seconds), ascending by id. */
  leases(): { id: number; ttl: number }[] {
    return this.leaseTable.sorted().map((l) => ({ id: l.id, ttl: l.ttl }));
  }

  /** Keys that exist at the current revision. */
  get keyCount(): number {
    return this.index.liveKeyCount;
  }

  /**
   * A reader of the state as of now in the streamed snapshot format (snapshot.ts), for writing a
   * snapshot of any size in bounded frames while this store goes on applying commands: it reads a
   * copy-on-write clone of the key index, skips entries newer than now, and while it is open a
   * compaction only moves the compact revision (the index is trimmed when the last reader closes;
   * reads below the compact revision are refused either way). Close it (or read it to the end).
   */
  snapshotReader(frameTargetBytes?: number): SnapshotReader {
    const view = {
      histories: this.index.frozenHistories(),
      revision: this.currentRevision,
      compactRevision: this.compactedRevision,
      leases: this.leaseTable.sorted().map((l): [number, number] => [l.id, l.ttl]),
    };
    const index = this.index;
    this.openSnapshotReaders++;
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      this.openSnapshotReaders--;
      if (this.openSnapshotReaders > 0 || this.deferredCompaction === 0) return;
      // A restore in between replaced the index: the deferred trim was for the old one.
      if (this.index === index) this.index.compact(this.deferredCompaction);
      this.deferredCompaction = 0;
    };
    const frames = encodeSnapshotFrames(view, frameTargetBytes);
    return {
      frames: (function* () {
        try {
          yield* frames;
        } finally {
          close();
        }
      })(),
      close,
    };
  }

  /** The whole state as one buffer in the streamed snapshot format (the frames of {@link snapshotReader}, concatenated). */
  snapshot(): Uint8Array {
    return Buffer.concat([...this.snapshotReader().frames]);
  }

  /**
   * A restorer fed the frame payloads of a snapshot one at a time; its `finish()` replaces all state.
   * @see MvccSnapshotDecoder for the checks and errors
   */
  restorer(): SnapshotRestorer {
    const decoder = new MvccSnapshotDecoder();
    return {
      frame: (payload) => decoder.frame(payload),
      finish: () => this.replaceState(decoder.finish()),
    };
  }

  /**
   * Replaces all state with a snapshot from {@link snapshot} (of any member; the older single-value
   * formats too, snapshot-legacy.ts).
   * @throws CairnError("invalid_argument") if `data` is not a valid snapshot; the state is then unchanged
   */
  restore(data: Uint8Array): void {
    if (isLegacySnapshot(data)) {
      this.replaceState(decodeLegacySnapshot(data));
      return;
    }
    const restorer = this.restorer();
    const splitter = new SnapshotFrameSplitter();
    splitter.push(data, (payload) => restorer.frame(payload));
    splitter.end();
    restorer.finish();
  }

  private replaceState(state: MvccState): void {
    this.index = state.index;
    this.currentRevision = state.revision;
    this.compactedRevision = state.compactRevision;
    this.leaseTable = state.leases;
    this.deferredCompaction = 0;
  }

  private begin(): WriteContext {
    return new WriteContext(this.index, this.currentRevision, this.leaseTable);
  }

  private end(w: WriteContext): void {
    assert(this.currentRevision === w.beginRevision, "write: revision moved during a write");
    assert(w.changed === w.events.length > 0, "write: events and changes disagree");
    this.currentRevision = w.currentRevision;
    if (w.changed) this.lastEvents = sortEventsByKey(w.events);
  }

  /** etcd Put: always writes, so always a new revision. */
  private put(req: PutRequest): PutResponse {
    validatePut(req);
    checkPutTarget(this.index, req, this.currentRevision, this.leaseTable);
    const w = this.begin();
    const resp = w.put(req);
    this.end(w);
    return resp;
  }

  /** etcd DeleteRange: a new revision only when some key was deleted. */
  private deleteRange(req: DeleteRangeRequest): DeleteRangeResponse {
    validateDeleteRange(req);
    const w = this.begin();
    const resp = w.deleteRange(req);
    this.end(w);
    return resp;
  }

  /**
   * etcd Txn: compares (and nested compares) at the current revision, checks of the chosen ops, then
   * the ops in order. Header revision: the revision after the txn.
   */
  private txn(req: TxnRequest): TxnResponse {
    validateTxn(req);
    const path = txnPath(this.index, req, this.currentRevision);
    checkTxnOps(this.index, req, path, this.currentRevision, this.compactedRevision, this.leaseTable);
    const w = this.begin();
    const cursor = { next: 0 };
    const resp = w.txn(req, path, cursor);
    assert(cursor.next === path.length, "txn: path not fully used");
    this.end(w);
    resp.header.revision = this.currentRevision;
    return resp;
  }

  /**
   * etcd Compact: drops history older than `revision` except what reads at `revision` or later need
   * (the newest put of each key at or before it). The revision does not move.
   * @throws CairnError "compacted" (revision <= compactRevision), "future_revision" (revision > current),
   *   "invalid_argument" (not an integer)
   */
  private compact(req: CompactionRequest): CompactionResponse {
    if (typeof req !== "object" || req === null || !Number.isSafeInteger(req.revision)) {
      throw invalidArgument("compaction revision must be an integer");
    }
    if (req.revision <= this.compactedRevision) throw compactedError(this.compactedRevision);
    if (req.revision > this.currentRevision) throw futureRevisionError(req.revision, this.currentRevision);
    if (this.openSnapshotReaders > 0) this.deferredCompaction = req.revision;
    else this.index.compact(req.revision);
    this.compactedRevision = req.revision;
    return { header: { revision: this.currentRevision } };
  }

  /**
   * etcd LeaseGrant as applied (lessor.Grant): adds the lease with no keys. The revision does not move.
   * @throws CairnError "invalid_argument" (id not in 1 ..= 2^53-1, ttl not a positive integer),
   *   "lease_ttl_too_large" (ttl > MAX_LEASE_TTL_SECONDS), "lease_exists"
   */
  private leaseGrant(req: LeaseGrantRequest): LeaseGrantResponse {
    if (typeof req !== "object" || req === null || !Number.isSafeInteger(req.id) || req.id < 1) {
      throw invalidArgument("lease id must be an integer from 1 to 2^53-1");
    }
    if (!Number.isSafeInteger(req.ttl) || req.ttl < 1)
      throw invalidArgument("lease TTL must be a positive integer");
    if (req.ttl > MAX_LEASE_TTL_SECONDS) throw leaseTtlTooLargeError();
    if (this.leaseTable.has(req.id)) throw leaseExistsError();
    this.leaseTable.grant(req.id, req.ttl);
    return { header: { revision: this.currentRevision }, id: req.id, ttl: req.ttl };
  }

  /**
   * etcd LeaseRevoke as applied (lessor.Revoke): deletes every key attached to the lease in one
   * write, in key order (one revision, one DELETE event per key; no new revision when it had no
   * keys), then removes the lease.
   * @throws CairnError "invalid_argument" (bad id), "lease_not_found"
   */
  private leaseRevoke(req: LeaseRevokeRequest): LeaseRevokeResponse {
    if (typeof req !== "object" || req === null || !Number.isSafeInteger(req.id)) {
      throw invalidArgument("lease id must be an integer");
    }
    const lease = this.leaseTable.get(req.id);
    if (lease === undefined) throw leaseNotFoundError();
    const w = this.begin();
    for (const k of [...lease.keys].sort()) {
      const resp = w.deleteRange({ key: new Uint8Array(Buffer.from(k, "latin1")) });
      assert(resp.deleted === 1, "lease revoke: an attached key did not exist");
    }
    this.leaseTable.remove(req.id);
    this.end(w);
    return { header: { revision: this.currentRevision } };
  }
}
