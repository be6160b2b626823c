/**
 * CRC-32 (IEEE 802.3, the zlib/gzip polynomial) of WAL records, snapshot files and streamed
 * snapshots, from node:zlib.
 * `zlib.crc32` exists since Node.js 20.15 / 22.2 and in Bun (checked with Bun 1.4).
 */
import * as zlib from "node:zlib";

const zcrc32: ((data: Uint8Array, value?: number) => number) | undefined = (
  zlib as { crc32?: (data: Uint8Array, value?: number) => number }
).crc32;

if (typeof zcrc32 !== "function") {
  throw new Error("Cairn needs zlib.crc32 (Node.js >= 20.15 or Bun)");
}

/** CRC-32 of `data`, continuing from `value` (the CRC of the bytes before), as an unsigned 32-bit number. */
export function crc32(data: Uint8Array, value = 0): number {
  return zcrc32!(data, value);
}

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * The same CRC-32 of buf[start, end) computed in JS: faster than a native call for a few bytes
 * (record headers, checked at every offset when probing past a damaged record).
 */
export function crc32Bytes(buf: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
