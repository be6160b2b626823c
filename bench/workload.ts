/**
 * The benchmark workload: a fixed set of keys and values and the prebuilt JSON bodies of etcd's
 * gateway requests for them. Defaults follow etcd's `benchmark` tool (tools/benchmark:
 * --key-size=8 --val-size=256); the key space is 256 distinct keys.
 */
import { seededRandom } from "../src/util/random.ts";

/** The three measured operations, all on etcd's JSON gateway (etcd 3.4 grpc-gateway paths). */
export type Operation = "put" | "range-linearizable" | "range-serializable";

/** Every operation, in the order the comparison runs them (put first: it also fills the keys). */
export const OPERATIONS: readonly Operation[] = ["put", "range-linearizable", "range-serializable"];

/** Shape of the key space. */
export interface WorkloadOptions {
  /** Number of distinct keys (etcd benchmark's --key-space-size); default 256. */
  keyCount?: number;
  /** Bytes per key (etcd benchmark's --key-size); default 8. */
  keySizeBytes?: number;
  /** Bytes per value (etcd benchmark's --val-size); default 256. */
  valueSizeBytes?: number;
}

/** Prebuilt request bodies, one per key, and what a correct read returns. */
export interface Workload {
  keyCount: number;
  keySizeBytes: number;
  valueSizeBytes: number;
  /** POST /v3/kv/put bodies: {"key":base64,"value":base64}. */
  putBodies: Buffer[];
  /** POST /v3/kv/range bodies: {"key":base64} (linearizable, etcd's default). */
  rangeLinearizableBodies: Buffer[];
  /** POST /v3/kv/range bodies: {"key":base64,"serializable":true}. */
  rangeSerializableBodies: Buffer[];
  /** base64 of the value each key holds after a put (what a range must return). */
  valueBase64: string[];
}

/** Gateway path of each operation. */
export function operationPath(op: Operation): string {
  return op === "put" ? "/v3/kv/put" : "/v3/kv/range";
}

/** Request bodies of an operation, indexed by key number. */
export function operationBodies(w: Workload, op: Operation): Buffer[] {
  if (op === "put") return w.putBodies;
  return op === "range-linearizable" ? w.rangeLinearizableBodies : w.rangeSerializableBodies;
}

/**
 * Builds the key space. Keys are printable ASCII ("bench" + zero-padded number, padded or cut to
 * keySizeBytes) so the same keys are valid UTF-8 keys in Cairn's native API too; values are
 * printable ASCII from a fixed-seed generator, so every run writes the same bytes.
 * @throws Error if the sizes cannot hold keyCount distinct keys, or a size is out of 1..1 MiB
 */
export function makeWorkload(opts: WorkloadOptions = {}): Workload {
  const keyCount = opts.keyCount ?? 256;
  const keySizeBytes = opts.keySizeBytes ?? 8;
  const valueSizeBytes = opts.valueSizeBytes ?? 256;
  const digits = String(keyCount - 1).length;
  if (!Number.isInteger(keyCount) || keyCount < 1 || keyCount > 1_000_000) {
    throw new Error(`key count must be 1..1000000, got ${keyCount}`);
  }
  if (!Number.isInteger(keySizeBytes) || keySizeBytes < digits || keySizeBytes > 1024) {
    throw new Error(`key size must be ${digits}..1024 bytes to hold ${keyCount} distinct keys`);
  }
  if (!Number.isInteger(valueSizeBytes) || valueSizeBytes < 1 || valueSizeBytes > 1024 * 1024) {
    throw new Error(`value size must be 1..1048576 bytes, got ${valueSizeBytes}`);
  }
  const random = seededRandom(0x5eed);
  const w: Workload = {
    keyCount,
    keySizeBytes,
    valueSizeBytes,
    putBodies: [],
    rangeLinearizableBodies: [],
    rangeSerializableBodies: [],
    valueBase64: [],
  };
  for (let i = 0; i < keyCount; i++) {
    const num = String(i).padStart(digits, "0");
    const key = `${"bench".slice(0, Math.max(0, keySizeBytes - digits)).padEnd(keySizeBytes - digits, "_")}${num}`;
    const value = Buffer.alloc(valueSizeBytes);
    for (let j = 0; j < valueSizeBytes; j++) value[j] = 0x21 + Math.floor(random() * 94);
    const k64 = Buffer.from(key).toString("base64");
    const v64 = value.toString("base64");
    w.valueBase64.push(v64);
    w.putBodies.push(Buffer.from(JSON.stringify({ key: k64, value: v64 })));
    w.rangeLinearizableBodies.push(Buffer.from(JSON.stringify({ key: k64 })));
    w.rangeSerializableBodies.push(Buffer.from(JSON.stringify({ key: k64, serializable: true })));
  }
  return w;
}
