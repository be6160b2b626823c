/**
 * Peer URLs of a member as the membership routes accept them: the rule of
 * src/transport/url.ts parsePeerUrl (https only, no path, query or user info) plus what
 * `cairn serve --initial-advertise-peer-urls` requires of an advertised URL (an explicit port
 * 1-65535, not a listen-only host such as 0.0.0.0). Each URL is returned in the canonical form
 * `https://host:port` that `cairn serve` derives from its flags, so the peer URLs stored by
 * `member add` are the exact strings the new member advertises when it starts.
 */
import { parsePeerUrl } from "../transport/url.ts";
import { CairnError, invalidArgument } from "../util/errors.ts";

/** Most peer URLs of one member. etcd has no limit; a member rarely has more than two (one per network). */
export const MAX_PEER_URLS_PER_MEMBER = 16;

/** Longest peer URL in characters (a DNS name is at most 253, plus scheme and port). */
export const MAX_PEER_URL_CHARS = 300;

const AUTHORITY_PORT = /^(?:\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/;
const UNSPECIFIED_HOSTS = new Set(["0.0.0.0", "[::]"]);

/**
 * Validates one peer URL and returns its canonical form.
 * @param text the URL as given, e.g. "https://10.0.0.4:2380/"
 * @returns "https://host:port" (IPv6 hosts in brackets, host lower-cased, no trailing slash)
 * @throws CairnError "invalid_argument" naming the URL and the broken rule
 */
export function canonicalPeerUrl(text: string): string {
  if (text.length > MAX_PEER_URL_CHARS) {
    throw invalidArgument(`peer URL of ${text.length} characters is longer than ${MAX_PEER_URL_CHARS}`);
  }
  parsePeerUrl(text);
  const url = new URL(text);
  const authority = text.slice(text.indexOf("//") + 2).split(/[/?#]/)[0] ?? "";
  const port = AUTHORITY_PORT.exec(authority);
  if (url.hostname === "" || !port) {
    throw invalidArgument(`peer URL "${text}" must have the form https://host:port (host and port required)`);
  }
  const portNumber = Number(port[1]);
  if (portNumber < 1 || portNumber > 65_535) {
    throw invalidArgument(`peer URL "${text}" has an invalid port ${port[1]}`);
  }
  if (url.hash !== "") throw invalidArgument(`peer URL "${text}" must be of the form https://host:port`);
  if (UNSPECIFIED_HOSTS.has(url.hostname)) {
    throw invalidArgument(
      `peer URL "${text}" is not reachable by other members (${url.hostname} is a listen-only address); give a routable host`,
    );
  }
  return `https://${url.hostname}:${portNumber}`;
}

/**
 * Validates a member's peer URL list: 1 to {@link MAX_PEER_URLS_PER_MEMBER} URLs, each valid,
 * none twice (after canonicalization).
 * @returns the canonical URLs in the given order
 * @throws CairnError "invalid_argument"
 */
export function canonicalPeerUrls(urls: readonly string[]): string[] {
  if (urls.length === 0) throw invalidArgument("at least one peer URL is required");
  if (urls.length > MAX_PEER_URLS_PER_MEMBER) {
    throw invalidArgument(`a member has at most ${MAX_PEER_URLS_PER_MEMBER} peer URLs, got ${urls.length}`);
  }
  const out = urls.map(canonicalPeerUrl);
  const seen = new Set<string>();
  for (const u of out) {
    if (seen.has(u)) throw invalidArgument(`peer URL ${u} is listed twice`);
    seen.add(u);
  }
  return out;
}

/** Re-throws a peer URL error with `prefix` (e.g. etcd's message on /v3); other errors unchanged. */
export function withPeerUrlPrefix<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CairnError && e.code === "invalid_argument")
      throw invalidArgument(`${prefix}: ${e.message}`);
    throw e;
  }
}
