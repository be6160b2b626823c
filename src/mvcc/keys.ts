/**
 * Key helpers of the MVCC store. Keys are bytes ordered byte-wise (unsigned), like etcd's
 * `bytes.Compare`. Inside the key index a key is held as a "binary string": one UTF-16 code
 * unit per byte (ISO-8859-1 / latin1). JS string comparison of such strings equals unsigned
 * byte-wise comparison of the bytes, so the strings can key a sorted B-tree directly.
 */

/** The one-byte key [0x00]: as a range end it means "every key >= key" (etcd range_end "\0"). */
export const FROM_KEY_END: Uint8Array = new Uint8Array([0]);

/**
 * The smallest key greater than every key that starts with `prefix`: etcd clientv3
 * `GetPrefixRangeEnd`. Increments the last byte below 0xff and cuts after it; a prefix of only
 * 0xff bytes (or an empty prefix) has no such key and yields [0x00] (= "to the end of the keyspace").
 * @param prefix key prefix bytes (not modified)
 * @returns a new array
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const byte = prefix[i]!;
    if (byte < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = byte + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/**
 * The binary ("latin1") string of `bytes`: character i has code unit bytes[i].
 * String order of results = unsigned byte-wise order of inputs.
 */
export function keyString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** Unsigned byte-wise comparison (etcd `bytes.Compare`): negative, 0 or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * The key interval a request names, as binary strings (see {@link keyString}), with etcd's
 * range_end rules (rpc.proto RangeRequest): `end` undefined = the single key `start`;
 * `end` null = every key >= `start`; otherwise [start, end) (empty when end <= start).
 */
export interface KeyInterval {
  start: string;
  end: string | null | undefined;
}

/**
 * Builds the {@link KeyInterval} of `key` and `rangeEnd` (absent or empty: single key; [0x00]: to the end).
 */
export function keyInterval(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyInterval {
  const start = keyString(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  return { start, end: keyString(rangeEnd) };
}

/** True when the binary-string key `k` lies in `iv`. */
export function intervalContains(iv: KeyInterval, k: string): boolean {
  if (iv.end === undefined) return k === iv.start;
  if (k < iv.start) return false;
  return iv.end === null || k < iv.end;
}
