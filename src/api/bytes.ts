/**
 * Byte helpers of the API layer: UTF-8 encoding and decoding, base64, ordering and etcd's
 * prefix range end. Keys and values travel as Uint8Array (src/mvcc/types.ts).
 */

const encoder = new TextEncoder();
/** Strict decoder: throws on invalid UTF-8; keeps a leading BOM so values round-trip unchanged. */
const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 bytes of `text` (a fresh buffer the store may keep). */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** `bytes` as a string when they are valid UTF-8, else undefined. */
export function tryDecodeUtf8(bytes: Uint8Array): string | undefined {
  if (bytes.length === 0) return "";
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Standard base64 (RFC 4648 §4, with padding) of `bytes`, as protobuf's JSON mapping writes bytes. */
export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** Standard or URL-safe base64, padding optional (what Go's protobuf JSON mapping accepts). */
const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decodes base64 (standard or URL-safe, padding optional) into a fresh Uint8Array.
 * @returns undefined when `text` is not base64
 */
export function fromBase64(text: string): Uint8Array | undefined {
  const view = fromBase64View(text);
  // Copy out of Buffer's shared pool so a stored key or value does not pin a pool slab.
  return view === undefined ? undefined : new Uint8Array(view);
}

/**
 * Decodes base64 like {@link fromBase64}, without the copy: a plain Uint8Array view into Node's
 * shared Buffer pool (8 KiB slabs) for decoded sizes under 4 KiB. For bytes used at once and
 * dropped, such as a put's key and value, which go into a log entry before the request ends:
 * the copy would be an ArrayBuffer of its own (over 64 bytes), and each one costs time in every
 * scavenge pause. Kept bytes would pin their whole slab: use fromBase64 for those.
 * @returns undefined when `text` is not base64
 */
export function fromBase64View(text: string): Uint8Array | undefined {
  if (!BASE64_RE.test(text) || text.replace(/=+$/, "").length % 4 === 1) return undefined;
  const buf = Buffer.from(text, "base64");
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Lexicographic byte order (etcd orders keys by bytes): negative, zero or positive. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** True when `a` and `b` hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0;
}

/** etcd's "no end" range end ([0x00]): with it a range covers every key >= key. */
export const NO_END: Uint8Array = Uint8Array.of(0);

/**
 * Range end that covers every key starting with `prefix` (etcd clientv3 GetPrefixRangeEnd):
 * the prefix with its last byte below 0xff incremented and what follows dropped; [0x00]
 * (every key >= prefix) when every byte is 0xff or the prefix is empty.
 */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i]! < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return NO_END;
}
