/**
 * The /v1 lease and compaction operations the CLI uses (`lease grant|revoke|keep-alive|timetolive|
 * list`, `compaction`), on top of {@link FailoverClient}, and the streaming keep-alive
 * (`POST /v1/leases/{id}/keepalive?stream=true`) with reconnection to the next endpoint.
 * Lease ids are numbers here (decimal on the wire); the commands print them in hex as etcdctl.
 */
import { z } from "zod";
import { CairnError, type ErrorCode } from "../util/errors.ts";
import { parseAnswer } from "./api-schemas.ts";
import type { FailoverClient } from "./http-client.ts";
import { sleep } from "./interrupt.ts";

/** POST /v1/leases and one keep-alive: the lease and its TTL (seconds). */
export const LeaseTtlSchema = z.looseObject({ id: z.number(), ttl: z.number() });
export type LeaseTtlJson = z.infer<typeof LeaseTtlSchema>;

/** GET /v1/leases/{id}: remaining and granted TTL (seconds), keys when asked for. */
export const TimeToLiveSchema = z.looseObject({
  id: z.number(),
  ttl: z.number(),
  granted_ttl: z.number(),
  keys: z.array(z.string()).optional(),
  keys_encoding: z.literal("base64").optional(),
});
export type TimeToLiveJson = z.infer<typeof TimeToLiveSchema>;

/** GET /v1/leases. */
export const LeaseListSchema = z.looseObject({
  revision: z.number(),
  leases: z.array(z.looseObject({ id: z.number(), granted_ttl: z.number() })),
});
export type LeaseListJson = z.infer<typeof LeaseListSchema>;

/** DELETE /v1/leases/{id}: the revision after the lease's keys were deleted. */
export const RevisionSchema = z.looseObject({ revision: z.number() });

/** POST /v1/compaction. */
export const CompactionSchema = z.looseObject({ revision: z.number(), compact_revision: z.number() });
export type CompactionJson = z.infer<typeof CompactionSchema>;

const JSON_HEADERS = { "content-type": "application/json" };

function json(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** POST /v1/leases (a write: not retried elsewhere once sent, a retry could grant twice). */
export async function grantLease(client: FailoverClient, ttl: number, id?: number): Promise<LeaseTtlJson> {
  const res = await client.request({
    method: "POST",
    path: "/v1/leases",
    headers: JSON_HEADERS,
    body: json(id ? { ttl, id } : { ttl }),
    kind: "write",
  });
  return parseAnswer(LeaseTtlSchema, res.body, "POST /v1/leases");
}

/** DELETE /v1/leases/{id}. @throws CairnError "lease_not_found" */
export async function revokeLease(client: FailoverClient, id: number): Promise<{ revision: number }> {
  const path = `/v1/leases/${id}`;
  const res = await client.request({ method: "DELETE", path, kind: "write" });
  return parseAnswer(RevisionSchema, res.body, `DELETE ${path}`);
}

/** POST /v1/leases/{id}/keepalive (idempotent: retried like a read). @throws CairnError "lease_not_found" */
export async function keepAliveOnce(client: FailoverClient, id: number): Promise<LeaseTtlJson> {
  const path = `/v1/leases/${id}/keepalive`;
  const res = await client.request({ method: "POST", path, kind: "read" });
  return parseAnswer(LeaseTtlSchema, res.body, `POST ${path}`);
}

/** GET /v1/leases/{id}[?keys=true]. @returns undefined when the lease does not exist (etcdctl: "already expired") */
export async function leaseTimeToLive(
  client: FailoverClient,
  id: number,
  keys: boolean,
): Promise<TimeToLiveJson | undefined> {
  const path = `/v1/leases/${id}${keys ? "?keys=true" : ""}`;
  try {
    const res = await client.request({ method: "GET", path, kind: "read" });
    return parseAnswer(TimeToLiveSchema, res.body, `GET ${path}`);
  } catch (e) {
    if (e instanceof CairnError && e.code === "lease_not_found") return undefined;
    throw e;
  }
}

/** GET /v1/leases. */
export async function listLeases(client: FailoverClient): Promise<LeaseListJson> {
  const res = await client.request({ method: "GET", path: "/v1/leases", kind: "read" });
  return parseAnswer(LeaseListSchema, res.body, "GET /v1/leases");
}

/** POST /v1/compaction. @throws CairnError "compacted" / "future_revision" */
export async function compact(
  client: FailoverClient,
  revision: number,
  physical: boolean,
): Promise<CompactionJson> {
  const res = await client.request({
    method: "POST",
    path: "/v1/compaction",
    headers: JSON_HEADERS,
    body: json(physical ? { revision, physical } : { revision }),
    kind: "write",
  });
  return parseAnswer(CompactionSchema, res.body, "POST /v1/compaction");
}

/** Options of {@link keepAliveStream}. */
export interface KeepAliveStreamOptions {
  /** Base URLs tried in turn (a dropped stream reconnects to the next one). */
  endpoints: readonly string[];
  /** Called with every answer of the server (each renewal). */
  onAnswer(answer: LeaseTtlJson): void;
  /** Stops the stream (e.g. Ctrl-C, or a test). */
  signal?: AbortSignal;
  /** Longest time without an answer before the stream is dropped and reopened (ms). Default 10 s. */
  silenceMs?: number;
}

const encoder = new TextEncoder();

/**
 * Keeps lease `id` alive over the streaming keep-alive until the lease is gone or `signal` aborts,
 * as etcd's clientv3 KeepAlive does: a ping at once, then a ping TTL/3 after each answer (at most
 * every 500 ms, at least every 60 s). Retryable errors and dropped streams are retried (the
 * stream reopens on the next endpoint after a short back-off).
 * @returns "expired" when the server answers lease_not_found, "stopped" when `signal` aborted
 * @throws CairnError for a non-retryable error other than lease_not_found
 */
export async function keepAliveStream(
  id: number,
  opts: KeepAliveStreamOptions,
): Promise<"expired" | "stopped"> {
  let attempt = 0;
  while (!opts.signal?.aborted) {
    const endpoint = opts.endpoints[attempt % opts.endpoints.length]!;
    const outcome = await keepAliveOn(endpoint, id, opts);
    if (outcome !== "retry") return outcome;
    attempt++;
    await sleep(Math.min(2_000, 200 * attempt), opts.signal);
  }
  return "stopped";
}

/** One stream to one endpoint. */
async function keepAliveOn(
  endpoint: string,
  id: number,
  opts: KeepAliveStreamOptions,
): Promise<"expired" | "stopped" | "retry"> {
  const local = new AbortController();
  const stop = () => local.abort();
  opts.signal?.addEventListener("abort", stop, { once: true });
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  let timer: NodeJS.Timeout | undefined;
  let silence: NodeJS.Timeout | undefined;
  const ping = () => {
    try {
      controller.enqueue(encoder.encode("\n"));
    } catch {
      // the stream is closed
    }
  };
  const watchSilence = () => {
    clearTimeout(silence);
    silence = setTimeout(stop, opts.silenceMs ?? 10_000);
  };
  try {
    // The first ping goes with the request: the server's answer (and so its response headers,
    // which fetch waits for) starts with the answer to it.
    ping();
    const res = await fetch(`${endpoint}/v1/leases/${id}/keepalive?stream=true`, {
      method: "POST",
      body,
      signal: local.signal,
      duplex: "half",
    } as RequestInit);
    if (!res.ok || res.body === null) {
      const text = await res.text().catch(() => "");
      const err = errorOf(text);
      if (err?.code === "lease_not_found") return "expired";
      if (err && !err.retryable) throw err;
      return "retry";
    }
    watchSilence();
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === "") continue;
        watchSilence();
        const err = errorOf(line);
        if (err) {
          if (err.code === "lease_not_found") return "expired";
          if (!err.retryable) throw err;
          clearTimeout(timer);
          timer = setTimeout(ping, 1_000);
          continue;
        }
        const answer = LeaseTtlSchema.parse(JSON.parse(line));
        opts.onAnswer(answer);
        clearTimeout(timer);
        timer = setTimeout(ping, Math.min(60_000, Math.max(500, (answer.ttl * 1000) / 3)));
      }
    }
    return opts.signal?.aborted ? "stopped" : "retry";
  } catch (e) {
    if (opts.signal?.aborted) return "stopped";
    if (e instanceof CairnError) throw e;
    return "retry"; // connection refused or lost, a silent stream, a garbled line: reopen
  } finally {
    clearTimeout(timer);
    clearTimeout(silence);
    opts.signal?.removeEventListener("abort", stop);
    local.abort();
    try {
      controller.close();
    } catch {
      // already closed
    }
  }
}

/** The CairnError of an error line or body `{"error":{"code","message"}}`, else undefined. */
function errorOf(text: string): CairnError | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === "string" && typeof e.message === "string") {
      return new CairnError(e.code as ErrorCode, e.message);
    }
  } catch {
    // not JSON
  }
  return undefined;
}
