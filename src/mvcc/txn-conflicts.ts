/**
 * The duplicate-key rule of txns (etcd api/v3rpc/key.go checkIntervals, error
 * "duplicate key given in txn request"): within what one txn can execute, a key may be put at most
 * once and may not be both put and deleted. The success and failure branches of one txn exclude each
 * other, so a key may appear in both. Deletes may overlap each other.
 *
 * Cairn checks every pair of sources symmetrically, so it also rejects the case etcd lets through by
 * the order of its checks (a nested txn puts a key that a later sibling nested txn deletes), and it
 * treats a delete's range_end [0x00] as "to the end of the keyspace". This guarantees that one txn
 * writes each key at most once, i.e. one history entry per key per revision.
 */
import { duplicateKeyError } from "./errors.ts";
import { intervalContains, type KeyInterval, keyInterval, keyString } from "./keys.ts";
import type { RequestOp } from "./types.ts";

/** The keys a list of ops may put and the intervals it may delete. */
export interface TxnWrites {
  puts: Set<string>;
  dels: KeyInterval[];
}

function covered(dels: KeyInterval[], k: string): boolean {
  return dels.some((iv) => intervalContains(iv, k));
}

/** Adds `src` to `acc`, rejecting any put of one that the other also puts or deletes. */
function merge(acc: TxnWrites, src: TxnWrites): void {
  for (const k of src.puts) {
    if (acc.puts.has(k) || covered(acc.dels, k)) throw duplicateKeyError();
  }
  for (const k of acc.puts) {
    if (covered(src.dels, k)) throw duplicateKeyError();
  }
  for (const k of src.puts) acc.puts.add(k);
  acc.dels.push(...src.dels);
}

/**
 * Checks one branch (list of ops) of a txn, recursing into nested txns.
 * @returns every key the branch may put and every interval it may delete
 * @throws CairnError("invalid_argument", "etcdserver: duplicate key given in txn request")
 */
export function checkTxnConflicts(ops: RequestOp[]): TxnWrites {
  const direct: TxnWrites = { puts: new Set(), dels: [] };
  for (const op of ops) {
    if ("requestDeleteRange" in op) {
      direct.dels.push(keyInterval(op.requestDeleteRange.key, op.requestDeleteRange.rangeEnd));
    }
  }
  for (const op of ops) {
    if (!("requestPut" in op)) continue;
    const k = keyString(op.requestPut.key);
    if (direct.puts.has(k) || covered(direct.dels, k)) throw duplicateKeyError();
    direct.puts.add(k);
  }
  const acc: TxnWrites = { puts: new Set(), dels: [] };
  merge(acc, direct);
  for (const op of ops) {
    if (!("requestTxn" in op)) continue;
    const onSuccess = checkTxnConflicts(op.requestTxn.success);
    const onFailure = checkTxnConflicts(op.requestTxn.failure);
    merge(acc, {
      puts: new Set([...onSuccess.puts, ...onFailure.puts]),
      dels: [...onSuccess.dels, ...onFailure.dels],
    });
  }
  return acc;
}
