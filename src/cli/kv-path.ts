/**
 * Keys in /v1 paths: `/v1/kv/{key}` with the key's UTF-8 bytes percent-encoded (contract:
 * "Keys are UTF-8 in the path after /v1/kv/ (percent-decoded); /v1/kv//a/b addresses /a/b").
 */

/** Characters kept as they are: RFC 3986 unreserved, sub-delims, ':' '@' (pchar) and '/'. */
const KEEP = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;

/**
 * Percent-encodes a key for the path. '/' stays literal (keys are often paths); '%', '?', '#',
 * '\\', spaces, controls and non-ASCII are encoded.
 */
export function encodeKeyPath(key: string): string {
  let out = "";
  for (const ch of key) {
    if (KEEP.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, "utf8")) out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * True when the key can travel in a URL path unchanged. A "." or ".." segment cannot: URL
 * parsers (WHATWG, used by fetch) remove dot segments, even percent-encoded ones, so
 * "a/../b" would reach the server as "b". Such keys go through POST /v1/txn instead.
 */
export function keyFitsPath(key: string): boolean {
  return key.split("/").every((segment) => segment !== "." && segment !== "..");
}

/** Path of a key: `/v1/kv/` + the encoded key. */
export function kvPath(key: string): string {
  return `/v1/kv/${encodeKeyPath(key)}`;
}
