/**
 * Leader forwarding for the routes that must run on the leader: membership changes and
 * leadership transfer (Raft thesis §4.1: one configuration change at a time, decided by the
 * leader; §3.10: only the leader hands leadership over). A member that is not the leader sends
 * the same request (method, path and query, body, Content-Type) to the leader's first
 * published client URL and answers with the leader's answer as is (status, body, headers).
 *
 * Loops are impossible: a forwarded request carries {@link FORWARDED_HEADER}, and a member that
 * is not the leader answers such a request with 503 instead of forwarding it again (the leader
 * moved while the request travelled; the client retries).
 */
import type { Context, Handler } from "hono";
import { CairnError } from "../util/errors.ts";
import { fetchErrorCode, NOT_SENT_CODES } from "../util/fetch-error.ts";
import { REQUEST_TIMEOUT_MS } from "../util/limits.ts";
import { readBodyBytes } from "./body.ts";
import type { ApiDeps } from "./deps.ts";

/** Header marking a request forwarded by a member to the leader (value "1"). */
export const FORWARDED_HEADER = "x-cairn-forwarded";

/**
 * Longest wait (ms) for the leader's answer to a forwarded request: the leader's own request
 * timeout plus one second, so that the leader's own answer (including its own "timeout" error)
 * arrives before the forwarding member gives up.
 */
export const FORWARD_TIMEOUT_MS = REQUEST_TIMEOUT_MS + 1_000;

/** Response headers not copied from the leader's answer: hop-by-hop, and framing that fetch already undid. */
const DROPPED_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "content-encoding",
  "upgrade",
  "proxy-connection",
  "trailer",
]);

/** Options of {@link forwardToLeader} (tests shorten the timeout). */
export interface ForwardOptions {
  /** Longest wait for the leader's answer in ms; default {@link FORWARD_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Sends the request of `c` to the leader and returns the leader's answer unchanged.
 * The body is read under `deps.maxRequestBytes`. Each of the leader's client URLs is tried in
 * order only while the previous one refused the connection (nothing was sent).
 * @throws CairnError "leader_changed" when the request was already forwarded once (no loops);
 *   "no_leader" when no leader is known, it published no client URL, or none of its URLs
 *   accepts a connection; "timeout" when the leader does not answer within the timeout or the
 *   connection fails after the request was sent (the change may or may not have been applied);
 *   "payload_too_large" for a body over the limit
 */
export async function forwardToLeader(
  c: Context,
  deps: ApiDeps,
  opts: ForwardOptions = {},
): Promise<Response> {
  if (c.req.header(FORWARDED_HEADER) !== undefined) {
    throw new CairnError(
      "leader_changed",
      "this member received the request from another member as the leader, but it is not the leader (leadership moved); retry",
    );
  }
  const leaderUrls = deps.cluster.leaderClientUrls();
  if (leaderUrls.length === 0) {
    throw new CairnError("no_leader", "no leader with a published client URL is known; retry later");
  }
  const body =
    c.req.method === "GET" || c.req.method === "HEAD"
      ? undefined
      : await readBodyBytes(c, deps.maxRequestBytes);
  const incoming = new URL(c.req.url);
  const headers: Record<string, string> = { [FORWARDED_HEADER]: "1" };
  const contentType = c.req.header("content-type");
  if (contentType !== undefined) headers["content-type"] = contentType;
  const timeoutMs = opts.timeoutMs ?? FORWARD_TIMEOUT_MS;
  const deadline = AbortSignal.timeout(timeoutMs);
  const refused: string[] = [];
  for (const base of leaderUrls) {
    const target = new URL(incoming.pathname + incoming.search, base);
    let answer: Response;
    try {
      answer = await fetch(target, {
        method: c.req.method,
        headers,
        body: body as RequestInit["body"],
        signal: deadline,
        redirect: "manual",
      });
    } catch (e) {
      const code = fetchErrorCode(e);
      if (!deadline.aborted && NOT_SENT_CODES.has(code)) {
        refused.push(`${base} (${code})`);
        continue;
      }
      throw new CairnError(
        "timeout",
        deadline.aborted
          ? `the leader at ${base} did not answer the forwarded request within ${timeoutMs}ms; it may or may not have been applied`
          : `the connection to the leader at ${base} failed (${code}); the request may or may not have been applied`,
      );
    }
    let bytes: ArrayBuffer;
    try {
      bytes = await answer.arrayBuffer();
    } catch (e) {
      throw new CairnError(
        "timeout",
        `the leader at ${base} did not finish its answer (${fetchErrorCode(e)}); the request may or may not have been applied`,
      );
    }
    const out = new Headers();
    answer.headers.forEach((value, name) => {
      if (!DROPPED_RESPONSE_HEADERS.has(name)) out.append(name, value);
    });
    return new Response(bytes, { status: answer.status, headers: out });
  }
  throw new CairnError(
    "no_leader",
    `the leader refused connections on every client URL: ${refused.join(", ")}`,
  );
}

/**
 * Wraps a route handler that must run on the leader: on the leader it runs `handler`, elsewhere
 * the request is forwarded with {@link forwardToLeader}.
 * @param deps the app's dependencies (deps.cluster decides who leads)
 * @param handler the route's own work, run on the leader only
 */
export function onLeader(
  deps: ApiDeps,
  handler: (c: Context) => Promise<Response>,
  opts?: ForwardOptions,
): Handler {
  return (c) => (deps.cluster.isLeader() ? handler(c) : forwardToLeader(c, deps, opts));
}
