/**
 * Key rules of the API: a key is non-empty and at most MAX_KEY_BYTES bytes (src/util/limits.ts).
 * /v1 keys are UTF-8 text in the URL path after `/v1/kv/`, percent-decoded.
 */
import { CairnError, invalidArgument } from "../util/errors.ts";
import { MAX_KEY_BYTES } from "../util/limits.ts";

/**
 * Throws unless `key` is an acceptable key.
 * @param what field name used in the message ("key", "range_end", "compare[0].key")
 * @throws CairnError "invalid_argument" "<what> is required" when empty (and `allowEmpty` is false)
 * @throws CairnError "payload_too_large" when longer than MAX_KEY_BYTES
 */
export function checkKey(key: Uint8Array, what = "key", allowEmpty = false): void {
  if (key.length === 0 && !allowEmpty) throw invalidArgument(`${what} is required`);
  if (key.length > MAX_KEY_BYTES) {
    throw new CairnError(
      "payload_too_large",
      `${what} is ${key.length} bytes, over the limit of ${MAX_KEY_BYTES} bytes`,
    );
  }
}

/**
 * The undecoded path of a request URL (`http://h/v1/kv/a%2Fb?x` → `/v1/kv/a%2Fb`). Routers decode
 * paths in ways that lose `%2F`; keys need the raw text.
 */
export function rawPath(url: string): string {
  const schemeEnd = url.indexOf("://");
  const start = url.indexOf("/", schemeEnd < 0 ? 0 : schemeEnd + 3);
  if (start < 0) return "/";
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q >= 0) end = q;
  const h = url.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  return url.slice(start, end);
}

/**
 * The key text addressed by a `/v1/kv/...` URL: what follows `<mount>/`, percent-decoded as UTF-8
 * (`/v1/kv//a/b` → "/a/b", `/v1/kv/%E9%85%8D` → "配", `/v1/kv` → "").
 * @throws CairnError "invalid_argument" on malformed percent-encoding
 */
export function keyFromUrl(url: string, mount: string): string {
  const path = rawPath(url);
  let raw = path.length > mount.length ? path.slice(mount.length + 1) : "";
  if (raw.indexOf("%") < 0) return raw;
  try {
    raw = decodeURIComponent(raw);
  } catch {
    throw invalidArgument("key in the URL path is not valid percent-encoded UTF-8");
  }
  return raw;
}
