/**
 * One write in progress (etcd storeTxnWrite): everything it writes gets revision
 * `beginRevision + 1`; the store's revision moves there only if something was written.
 * Reads inside it see its own earlier writes. Callers validate and check first
 * (validate.ts, txn-path.ts): once started, a write cannot fail except on a broken invariant.
 * Every put and deleted key is also recorded as a watch event (`events`, in write order).
 * Lease attachments follow the writes (etcd mvcc: a put attaches the key to its lease and detaches
 * it from the previous one; a delete detaches it).
 */
import { assert } from "../util/assert.ts";
import { eventOf } from "./events.ts";
import { type HistoryEntry, toKeyValue, tombstoneEntry } from "./key-history.ts";
import type { KeyIndex } from "./key-index.ts";
import { keyInterval, keyString } from "./keys.ts";
import type { LeaseTable } from "./leases.ts";
import { rangeAt } from "./range.ts";
import { branchOf } from "./txn-path.ts";
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  KeyValue,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  WatchEvent,
} from "./types.ts";

export class WriteContext {
  /** True once anything has been written. */
  changed = false;

  /** The watch events of this write, in write order (each with its prevKv), all at `writeRevision`. */
  readonly events: WatchEvent[] = [];

  /**
   * @param index the key index, written in place
   * @param beginRevision the store revision before this write
   * @param leases the lease table, whose key attachments follow the writes
   */
  constructor(
    private readonly index: KeyIndex,
    readonly beginRevision: number,
    private readonly leases: LeaseTable,
  ) {}

  /** The revision of everything this write writes. */
  get writeRevision(): number {
    return this.beginRevision + 1;
  }

  /** The revision the store has after this write (so far): the write revision once something changed. */
  get currentRevision(): number {
    return this.changed ? this.beginRevision + 1 : this.beginRevision;
  }

  /**
   * Puts one key (etcd put): version +1 (1 on create), createRevision kept (the write revision on
   * create). ignoreValue keeps the value and its contentType, ignoreLease the lease; both need the
   * key to exist, and a lease must exist (checked before, see checkPutTarget). The value is copied.
   */
  put(req: PutRequest): PutResponse {
    const k = keyString(req.key);
    const history = this.index.get(k);
    const latest = history?.latest;
    const prev = latest === undefined || latest.tombstone ? undefined : latest;
    assert(prev !== undefined || (!req.ignoreValue && !req.ignoreLease), "put: ignore flag on a missing key");
    const rev = this.writeRevision;
    const entry: HistoryEntry = {
      modRevision: rev,
      createRevision: prev === undefined ? rev : prev.createRevision,
      version: prev === undefined ? 1 : prev.version + 1,
      value: req.ignoreValue ? prev!.value : req.value.slice(),
      lease: req.ignoreLease ? prev!.lease : (req.lease ?? 0),
      contentType: req.ignoreValue ? prev!.contentType : req.contentType,
      tombstone: false,
    };
    const key = history?.key ?? req.key.slice();
    this.index.append(k, key, entry);
    const prevLease = prev?.lease ?? 0;
    if (prevLease !== entry.lease) {
      if (prevLease !== 0) this.leases.detach(prevLease, k);
      if (entry.lease !== 0) this.leases.attach(entry.lease, k);
    }
    this.events.push(eventOf(key, entry, latest));
    this.changed = true;
    const resp: PutResponse = { header: { revision: rev } };
    if (req.prevKv && prev !== undefined) resp.prevKv = toKeyValue(key, prev);
    return resp;
  }

  /** Deletes every existing key in the range (etcd deleteRange): one tombstone each, in key order. */
  deleteRange(req: DeleteRangeRequest): DeleteRangeResponse {
    const doomed = [];
    for (const h of this.index.histories(keyInterval(req.key, req.rangeEnd))) {
      const latest = h.latest;
      if (latest !== undefined && !latest.tombstone) doomed.push({ h, latest });
    }
    const prevKvs: KeyValue[] = [];
    const rev = this.writeRevision;
    for (const { h, latest } of doomed) {
      if (req.prevKv) prevKvs.push(toKeyValue(h.key, latest));
      const tombstone = tombstoneEntry(rev);
      const k = keyString(h.key);
      this.index.append(k, h.key, tombstone);
      if (latest.lease !== 0) this.leases.detach(latest.lease, k);
      this.events.push(eventOf(h.key, tombstone, latest));
    }
    if (doomed.length > 0) this.changed = true;
    return { header: { revision: this.currentRevision }, deleted: doomed.length, prevKvs };
  }

  /** A range inside a txn: at its own revision if given (checked before), else seeing this write's changes. */
  range(req: RangeRequest): RangeResponse {
    const rev = req.revision !== undefined && req.revision > 0 ? req.revision : this.currentRevision;
    return rangeAt(this.index, req, rev, this.currentRevision);
  }

  /**
   * Runs the branch of `req` chosen by `path` (see txnPath), nested txns included, in order.
   * Response headers follow etcd's applyTxn: a put has the write revision, a delete or range the
   * revision as of that op. A nested txn's header has the revision as of its end (etcd leaves it 0).
   * @param path compare outcomes, depth-first; `cursor.next` is advanced past the ones used
   */
  txn(req: TxnRequest, path: readonly boolean[], cursor: { next: number }): TxnResponse {
    const succeeded = path[cursor.next++];
    assert(succeeded !== undefined, "txn: path shorter than the nested txns");
    const responses: ResponseOp[] = [];
    for (const op of branchOf(req, succeeded)) {
      if ("requestRange" in op) responses.push({ responseRange: this.range(op.requestRange) });
      else if ("requestPut" in op) responses.push({ responsePut: this.put(op.requestPut) });
      else if ("requestDeleteRange" in op) {
        responses.push({ responseDeleteRange: this.deleteRange(op.requestDeleteRange) });
      } else responses.push({ responseTxn: this.txn(op.requestTxn, path, cursor) });
    }
    return { header: { revision: this.currentRevision }, succeeded, responses };
  }
}
