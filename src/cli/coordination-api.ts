/**
 * The /v1 watch, lock and election calls of the CLI (`watch`, `lock`, `elect`). The waiting calls
 * (lock, campaign) and the streams (watch, observe) run longer than --command-timeout, so they do
 * not go through {@link FailoverClient}'s deadline: they fail over across the endpoints on their
 * own, until Ctrl-C. Releasing calls (unlock, resign) go through the FailoverClient.
 *
 * Retrying a lock or campaign is safe: the same lease asks again for the same key
 * (`NAME/<lease hex>`), so a retry after a lost connection cannot take a second place in line.
 */
import { z } from "zod";
import { CairnError, type ErrorCode } from "../util/errors.ts";
import { MAX_LOCK_WAIT_MS } from "../util/limits.ts";
import { KvSchema, parseAnswer } from "./api-schemas.ts";
import { errorFromResponse, type FailoverClient } from "./http-client.ts";
import { sleep } from "./interrupt.ts";
import { type SseEvent, sseEvents } from "./sse.ts";

/** POST /v1/locks/{name}. */
export const LockSchema = z.looseObject({
  name: z.string(),
  key: z.string(),
  revision: z.number(),
  fencing_token: z.number(),
  lease: z.number(),
});
export type LockJson = z.infer<typeof LockSchema>;

/** The leader object of a campaign (what proclaim and resign take). */
export const LeaderSchema = z.looseObject({
  name: z.string(),
  key: z.string(),
  rev: z.number(),
  lease: z.number(),
});
export type LeaderJson = z.infer<typeof LeaderSchema>;

/** POST /v1/elections/{name}/campaign. */
export const CampaignSchema = z.looseObject({ revision: z.number(), leader: LeaderSchema });
export type CampaignJson = z.infer<typeof CampaignSchema>;

/** `event: leader` data of GET /v1/elections/{name}/observe. */
export const ObservedSchema = z.looseObject({ revision: z.number(), kv: KvSchema });
export type ObservedJson = z.infer<typeof ObservedSchema>;

const JSON_HEADERS = { "content-type": "application/json" };

/** Back-off (ms) before the n-th retry on another endpoint. */
function backoffMs(attempt: number): number {
  return Math.min(2_000, 100 * attempt);
}

/** `name` as one percent-encoded path segment ("/" included). */
function segment(name: string): string {
  return encodeURIComponent(name);
}

/**
 * POSTs a waiting request (lock, campaign) until it is answered, failing over on connection errors
 * and retryable answers, asking again after a server-side deadline_exceeded, until `signal`.
 * @returns the parsed answer, or undefined when `signal` aborted first
 * @throws CairnError for a non-retryable answer (lease_not_found, invalid_argument…)
 */
async function waitingPost(
  endpoints: readonly string[],
  path: string,
  body: unknown,
  signal: AbortSignal,
): Promise<unknown> {
  for (let attempt = 0; !signal.aborted; ) {
    const endpoint = endpoints[attempt % endpoints.length]!;
    let status: number;
    let bytes: Uint8Array;
    try {
      const res = await fetch(endpoint + path, {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify(body),
        signal,
      });
      status = res.status;
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch {
      if (signal.aborted) break;
      attempt++;
      await sleep(backoffMs(attempt), signal);
      continue;
    }
    if (status >= 200 && status < 300) return JSON.parse(Buffer.from(bytes).toString("utf8"));
    const err = errorFromResponse(status, bytes, endpoint);
    if (err.code === "deadline_exceeded") continue; // the server's wait ended: wait again
    if (!err.retryable) throw err;
    attempt++;
    await sleep(backoffMs(attempt), signal);
  }
  return undefined;
}

/**
 * Acquires lock `name` with `lease` (POST /v1/locks/{name}), waiting as long as it takes.
 * @returns the lock, or undefined when `signal` aborted first
 */
export async function acquireLock(
  endpoints: readonly string[],
  name: string,
  lease: number,
  signal: AbortSignal,
): Promise<LockJson | undefined> {
  const path = `/v1/locks/${segment(name)}?timeout_ms=${MAX_LOCK_WAIT_MS}`;
  const answer = await waitingPost(endpoints, path, { lease }, signal);
  return answer === undefined ? undefined : LockSchema.parse(answer);
}

/** DELETE /v1/locks/{name}?key=K. @returns whether the key was still there */
export async function releaseLock(client: FailoverClient, name: string, key: string): Promise<boolean> {
  const path = `/v1/locks/${segment(name)}?key=${encodeURIComponent(key)}`;
  const res = await client.request({ method: "DELETE", path, kind: "read" }); // idempotent
  return parseAnswer(z.looseObject({ released: z.boolean() }), res.body, `DELETE ${path}`).released;
}

/**
 * Campaigns in election `name` (POST /v1/elections/{name}/campaign), waiting until it leads.
 * @returns the campaign's answer, or undefined when `signal` aborted first
 */
export async function campaign(
  endpoints: readonly string[],
  name: string,
  lease: number,
  value: string,
  signal: AbortSignal,
): Promise<CampaignJson | undefined> {
  const path = `/v1/elections/${segment(name)}/campaign?timeout_ms=${MAX_LOCK_WAIT_MS}`;
  const answer = await waitingPost(endpoints, path, { lease, value }, signal);
  return answer === undefined ? undefined : CampaignSchema.parse(answer);
}

/** POST /v1/elections/{name}/resign. @returns whether the key was still there */
export async function resign(client: FailoverClient, name: string, leader: LeaderJson): Promise<boolean> {
  const path = `/v1/elections/${segment(name)}/resign`;
  const res = await client.request({
    method: "POST",
    path,
    headers: JSON_HEADERS,
    body: Buffer.from(JSON.stringify({ leader: { key: leader.key, rev: leader.rev } })),
    kind: "read", // idempotent: deletes only the key with that create revision
  });
  return parseAnswer(z.looseObject({ resigned: z.boolean() }), res.body, `POST ${path}`).resigned;
}

/** How one SSE connection ended. */
type StreamEnd = { kind: "stopped" } | { kind: "dropped" } | { kind: "final" };

/** Options of {@link followSse}. */
interface FollowOptions {
  endpoints: readonly string[];
  /** Path and query of the next connection (called before each, e.g. with the resume revision). */
  path(): string;
  /** Headers of the next connection. */
  headers?(): Record<string, string>;
  /** Handles one event; returns "final" to end the stream for good. */
  onEvent(e: SseEvent): "final" | undefined;
  signal: AbortSignal;
  /** Longest time without a byte (heartbeats included) before reconnecting (ms). */
  silenceMs: number;
}

/** One SSE connection to one endpoint. @throws CairnError for a non-retryable HTTP answer */
async function followOn(endpoint: string, opts: FollowOptions): Promise<StreamEnd> {
  const local = new AbortController();
  const stop = () => local.abort();
  opts.signal.addEventListener("abort", stop, { once: true });
  let silence: NodeJS.Timeout | undefined;
  const activity = () => {
    clearTimeout(silence);
    silence = setTimeout(stop, opts.silenceMs);
  };
  try {
    activity();
    const res = await fetch(endpoint + opts.path(), {
      headers: { accept: "text/event-stream", ...(opts.headers?.() ?? {}) },
      signal: local.signal,
    });
    if (!res.ok || res.body === null) {
      const err = errorFromResponse(res.status, new Uint8Array(await res.arrayBuffer()), endpoint);
      if (!err.retryable) throw err;
      return { kind: "dropped" };
    }
    for await (const e of sseEvents(res.body as unknown as AsyncIterable<Uint8Array>, activity)) {
      if (opts.onEvent(e) === "final") return { kind: "final" };
    }
    return { kind: opts.signal.aborted ? "stopped" : "dropped" };
  } catch (e) {
    if (opts.signal.aborted) return { kind: "stopped" };
    if (e instanceof CairnError) throw e;
    return { kind: "dropped" }; // refused, reset, silent too long: next endpoint
  } finally {
    clearTimeout(silence);
    opts.signal.removeEventListener("abort", stop);
    local.abort();
  }
}

/**
 * Follows an SSE stream across endpoints: a dropped connection is reopened on the next endpoint
 * (after a back-off when every endpoint failed in a row) until `signal` aborts or an event is
 * final. @throws CairnError from onEvent or a non-retryable HTTP answer
 */
async function followSse(opts: FollowOptions): Promise<void> {
  let failures = 0;
  for (let attempt = 0; !opts.signal.aborted; attempt++) {
    const endpoint = opts.endpoints[attempt % opts.endpoints.length]!;
    const started = Date.now();
    const end = await followOn(endpoint, opts);
    if (end.kind !== "dropped") return;
    failures = Date.now() - started > opts.silenceMs ? 1 : failures + 1;
    if (failures >= opts.endpoints.length) await sleep(backoffMs(failures), opts.signal);
  }
}

/** The parsed data of an `event: error` of an SSE stream. */
function sseError(data: string): CairnError {
  try {
    const e = JSON.parse(data) as { code?: unknown; message?: unknown };
    if (typeof e.code === "string" && typeof e.message === "string")
      return new CairnError(e.code as ErrorCode, e.message);
  } catch {
    // fall through
  }
  return new CairnError("internal", `stream error: ${data}`);
}

/** What a watch prints: the /v1 JSON of one revision's events. */
export interface WatchRevisionJson {
  revision: number;
  events: { type: "PUT" | "DELETE"; kv: z.infer<typeof KvSchema>; prev_kv?: z.infer<typeof KvSchema> }[];
}

/** Options of {@link watchEvents}. */
export interface WatchOptions {
  endpoints: readonly string[];
  key: string;
  prefix?: boolean;
  rangeEnd?: string;
  prevKv?: boolean;
  /** First revision wanted (0 or absent: from now). */
  startRevision?: number;
  signal: AbortSignal;
  onRevision(r: WatchRevisionJson): void;
  /** Longest silence before reconnecting (ms); the server sends a heartbeat every 5 s. Default 15 s. */
  silenceMs?: number;
}

/**
 * Watches GET /v1/watch until `signal` aborts, printing nothing itself: every revision goes to
 * onRevision once, in order. A dropped connection (member killed, network cut, silence) is
 * reopened on the next endpoint from the revision after the last one seen, so nothing is missed
 * or repeated; a "cancelled" stream (slow consumer) resumes from the revision the server names.
 * @throws CairnError "compacted" (with compact_revision) when the revisions needed are gone,
 *   non-retryable answers (bad key)
 */
export async function watchEvents(opts: WatchOptions): Promise<void> {
  let next = opts.startRevision ?? 0;
  let failure: CairnError | undefined;
  const path = () => {
    const q = new URLSearchParams({ key: opts.key });
    if (opts.prefix) q.set("prefix", "true");
    if (opts.rangeEnd !== undefined) q.set("range_end", opts.rangeEnd);
    if (opts.prevKv) q.set("prev_kv", "true");
    if (next > 0) q.set("start_revision", String(next));
    return `/v1/watch?${q.toString()}`;
  };
  await followSse({
    endpoints: opts.endpoints,
    path,
    signal: opts.signal,
    silenceMs: opts.silenceMs ?? 15_000,
    onEvent: (e) => {
      const data = JSON.parse(e.data) as Record<string, unknown>;
      if (e.event === "message") {
        const r = data as unknown as WatchRevisionJson;
        if (r.revision < next) return undefined; // never print a revision twice
        next = r.revision + 1;
        opts.onRevision(r);
      } else if (e.event === "created") {
        next = Math.max(next, Number(data.start_revision));
      } else if (e.event === "progress") {
        next = Math.max(next, Number(data.revision) + 1);
      } else if (e.event === "cancelled") {
        // The server ends this stream; the reconnect resumes from the revision it names.
        next = Math.max(next, Number(data.resume_revision));
      } else if (e.event === "compacted") {
        failure = new CairnError("compacted", "etcdserver: mvcc: required revision has been compacted", {
          compactRevision: data.compact_revision,
        });
        return "final";
      }
      return undefined;
    },
  });
  if (failure) throw failure;
}

/** Options of {@link observeLeaders}. */
export interface ObserveOptions {
  endpoints: readonly string[];
  name: string;
  signal: AbortSignal;
  /** Called with each new leader or proclaimed value (a reconnect does not repeat the last one). */
  onLeader(o: ObservedJson): void;
  silenceMs?: number;
}

/**
 * Observes election `name` (GET /v1/elections/{name}/observe) until `signal` aborts, reconnecting
 * to the next endpoint when the stream drops or ends with a retryable error.
 * @throws CairnError for a non-retryable error
 */
export async function observeLeaders(opts: ObserveOptions): Promise<void> {
  let last = "";
  let failure: CairnError | undefined;
  await followSse({
    endpoints: opts.endpoints,
    path: () => `/v1/elections/${segment(opts.name)}/observe`,
    signal: opts.signal,
    silenceMs: opts.silenceMs ?? 15_000,
    onEvent: (e) => {
      if (e.event === "leader") {
        const o = ObservedSchema.parse(JSON.parse(e.data));
        const id = `${o.kv.key}@${o.kv.mod_revision}`;
        if (id !== last) {
          last = id;
          opts.onLeader(o);
        }
      } else if (e.event === "error") {
        const err = sseError(e.data);
        if (err.retryable) return undefined; // the stream ends: reconnect
        failure = err;
        return "final";
      }
      return undefined;
    },
  });
  if (failure) throw failure;
}
