/**
 * CRC-32 (IEEE 802.3, the zlib/gzip polynomial) of WAL records and snapshot files, from node:zlib.
 * `zlib.crc32` exists since Node.js 20.15 / 22.2 and in Bun (checked with Bun 1.4).
 */
import * as zlib from "node:zlib";

const zcrc32: ((data: Uint8Array, value?: number) => number) | undefined = (
  zlib as { crc32?: (data: Uint8Array, value?: number) => number }
).crc32;

if (typeof zcrc32 !== "function") {
  throw new Error("Cairn's file storage needs zlib.crc32 (Node.js >= 20.15 or Bun)");
}

/** CRC-32 of `data`, continuing from `value` (the CRC of the bytes before), as an unsigned 32-bit number. */
export function crc32(data: Uint8Array, value = 0): number {
  return zcrc32!(data, value);
}
