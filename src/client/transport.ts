/**
 * HTTP with failover and retries: one attempt per endpoint at a time, moving to the next endpoint
 * after a connection error or a retryable answer (503 / 429 with a retryable code), with bounded
 * exponential back-off and jitter between attempts (etcd clientv3's retry interceptor does the
 * same for its "repeatable" calls).
 *
 * What is retried (the idempotency rules of the client, see also errors.ts NO_EFFECT_CODES):
 * - An idempotent call (reads, status, keep-alive, time-to-live, a read-only txn, and writes whose
 *   repetition is harmless, marked so by their caller) is retried after any connection error, a
 *   request timeout, or a retryable answer, up to `maxAttempts`.
 * - Any other write is retried only when the failed attempt provably had no effect: the connection
 *   was refused or the host did not resolve (nothing was sent), or the server answered no_leader,
 *   leader_transferring or too_many_requests (refused before proposing). Otherwise it fails with
 *   `unknown_outcome` and is never sent again.
 */
import { fetchErrorCode, NOT_SENT_CODES } from "../util/fetch-error.ts";
import { CairnClientError, type ClientErrorCode, CompactedError, NO_EFFECT_CODES } from "./errors.ts";

/** Retry policy of a client. All durations in milliseconds. */
export interface RetryOptions {
  /** Most attempts of one call, the first included (default 8). 1 turns retries off. */
  maxAttempts?: number;
  /** Back-off before the first retry (default 50 ms); doubles per retry. */
  initialBackoffMs?: number;
  /** Largest back-off (default 2000 ms). */
  maxBackoffMs?: number;
  /**
   * Source of randomness in [0, 1) for the jitter and for client-chosen lease ids (default
   * Math.random). Tests pass a seeded generator ({@link seededRandom}).
   */
  random?: () => number;
}

/** Options of a transport (the client's options minus the API parts). */
export interface TransportOptions {
  /** Base URLs of members, e.g. ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]. At least one. */
  endpoints: string[];
  /**
   * Deadline of one attempt in ms (default 10 000: above the server's own 7 s request timeout, so
   * that its `timeout` answer arrives first). For a watch: the wait for the stream to open.
   */
  requestTimeoutMs?: number;
  retry?: RetryOptions;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
}

/** One HTTP call. */
export interface HttpRequest {
  method: "GET" | "PUT" | "POST" | "DELETE";
  /** Path and query, e.g. `/v1/kv/a?prefix=true`. */
  path: string;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
  /** True when the call may be sent again after an unknown outcome (see the module comment). */
  idempotent: boolean;
  /** Aborts the call (no more attempts); it fails with code "aborted". */
  signal?: AbortSignal;
  /** What the call is, for messages ("put config/a"). */
  what: string;
}

/** A successful (2xx / 304) answer. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  endpoint: string;
  attempts: number;
  /** True when an earlier attempt may have been applied (see ClientErrorInit.maybeAppliedEarlier). */
  maybeAppliedEarlier: boolean;
}

const DEFAULT_MAX_ATTEMPTS = 8;
const DEFAULT_INITIAL_BACKOFF_MS = 50;
const DEFAULT_MAX_BACKOFF_MS = 2_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export { seededRandom } from "../util/random.ts";

/** Exponential back-off with "equal jitter": a delay in [d/2, d), d = min(max, initial * 2^retry). */
export class Backoff {
  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
    private readonly random: () => number,
  ) {}

  /** Delay before retry number `retry` (0 = the first retry). */
  delayMs(retry: number): number {
    const d = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(retry, 30));
    return Math.floor(d / 2 + this.random() * (d / 2));
  }
}

/** Resolves after `ms`, or rejects with "aborted" when `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError());
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The "aborted" error. */
export function abortedError(): CairnClientError {
  return new CairnClientError("aborted", "the operation was aborted by its AbortSignal");
}

/**
 * The error of a non-2xx answer from its body `{error:{code,message,...details}}`. A body that is
 * not the contract's JSON (a proxy's page) becomes code "unavailable" for 502/503/504, else
 * "internal".
 */
export function errorFromAnswer(status: number, body: Uint8Array, endpoint: string): CairnClientError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    parsed = undefined;
  }
  const e = (parsed as { error?: unknown } | undefined)?.error;
  if (typeof e === "object" && e !== null) {
    const rec = e as Record<string, unknown>;
    if (typeof rec.code === "string" && typeof rec.message === "string") {
      const details: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(rec)) if (k !== "code" && k !== "message") details[k] = v;
      if (rec.code === "compacted" && typeof details.compact_revision === "number") {
        return new CompactedError(details.compact_revision, rec.message, { status, endpoint, details });
      }
      return new CairnClientError(rec.code as ClientErrorCode, rec.message, { status, endpoint, details });
    }
  }
  const code = status === 502 || status === 503 || status === 504 ? "unavailable" : "internal";
  return new CairnClientError(code, `${endpoint} answered HTTP ${status} without an error body`, {
    status,
    endpoint,
  });
}

/** A copy of `e` carrying the attempt count and the earlier-attempt flag. */
function annotate(e: CairnClientError, attempts: number, maybeAppliedEarlier: boolean): CairnClientError {
  const init = {
    ...(e.status === undefined ? {} : { status: e.status }),
    ...(e.endpoint === undefined ? {} : { endpoint: e.endpoint }),
    details: e.details,
    attempts,
    maybeAppliedEarlier,
    ...(e.cause === undefined ? {} : { cause: e.cause }),
  };
  if (e instanceof CompactedError) return new CompactedError(e.compactRevision, e.message, init);
  return new CairnClientError(e.code, e.message, init);
}

/**
 * The HTTP side of a client: the endpoint list (the current endpoint is sticky until it fails),
 * attempts with deadlines, failover and retries.
 */
export class Transport {
  readonly endpoints: readonly string[];
  readonly requestTimeoutMs: number;
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  readonly random: () => number;
  /** The fetch implementation in use. */
  readonly fetchFn: typeof fetch;
  private current = 0;
  private closed = false;
  /** Aborted by close(): ends every attempt and stream in flight. */
  readonly closing = new AbortController();

  constructor(opts: TransportOptions) {
    if (!Array.isArray(opts.endpoints) || opts.endpoints.length === 0) {
      throw new CairnClientError("invalid_argument", "CairnClient needs at least one endpoint");
    }
    this.endpoints = opts.endpoints.map((e) => {
      let u: URL;
      try {
        u = new URL(e);
      } catch {
        throw new CairnClientError("invalid_argument", `endpoint ${e} is not a URL`);
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") {
        throw new CairnClientError("invalid_argument", `endpoint ${e} must be http:// or https://`);
      }
      return e.replace(/\/+$/, "");
    });
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.maxAttempts = Math.max(1, opts.retry?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.random = opts.retry?.random ?? Math.random;
    this.backoff = new Backoff(
      opts.retry?.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS,
      opts.retry?.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS,
      this.random,
    );
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The endpoint the next call goes to. */
  currentEndpoint(): string {
    return this.endpoints[this.current]!;
  }

  /** Moves on from `endpoint` to the next one (unless another call already did). */
  markFailed(endpoint: string): void {
    if (this.endpoints[this.current] === endpoint) {
      this.current = (this.current + 1) % this.endpoints.length;
    }
  }

  /** Ends every call and stream in flight; later calls fail with "closed". */
  close(): void {
    this.closed = true;
    this.closing.abort();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The "closed" error. */
  closedError(): CairnClientError {
    return new CairnClientError("closed", "the client is closed");
  }

  /**
   * One fetch to `endpoint` (no retry); the raw Response, body unread. Used by call() and by
   * watches, which read the body as a stream.
   * @param signal aborts the fetch (the caller's deadline, cancel or close)
   */
  async open(
    endpoint: string,
    req: Omit<HttpRequest, "idempotent" | "what">,
    signal: AbortSignal,
  ): Promise<Response> {
    const init: RequestInit = { method: req.method, signal, redirect: "manual" };
    if (req.headers) init.headers = req.headers;
    if (req.body !== undefined) init.body = req.body as RequestInit["body"];
    return this.fetchFn(endpoint + req.path, init);
  }

  /**
   * Sends `req`, failing over and retrying per the module comment.
   * @returns the 2xx / 304 answer with its body read
   * @throws CairnClientError: the server's error for a non-retryable answer (400 invalid_argument,
   *   404 key_not_found, 410 compacted as CompactedError, 412 precondition_failed, ...);
   *   "unknown_outcome" for a write that failed after it may have been applied; the last retryable
   *   server error or "unavailable" when the attempts are spent; "aborted"; "closed"
   */
  async call(req: HttpRequest): Promise<HttpResponse> {
    let attempts = 0;
    let maybeApplied = false;
    let connectFailuresInRow = 0;
    for (;;) {
      if (this.closed) throw this.closedError();
      if (req.signal?.aborted) throw abortedError();
      const endpoint = this.currentEndpoint();
      attempts++;
      const deadline = AbortSignal.timeout(this.requestTimeoutMs);
      const signals = [deadline, this.closing.signal];
      if (req.signal) signals.push(req.signal);
      const signal = AbortSignal.any(signals);
      let failure: { error: CairnClientError; sent: boolean; server: boolean };
      try {
        const res = await this.open(endpoint, req, signal);
        const body = new Uint8Array(await res.arrayBuffer());
        if (res.ok || res.status === 304) {
          return {
            status: res.status,
            headers: res.headers,
            body,
            endpoint,
            attempts,
            maybeAppliedEarlier: maybeApplied,
          };
        }
        const error = errorFromAnswer(res.status, body, endpoint);
        const retryable = error.retryable || error.code === "unavailable";
        if (!retryable) throw annotate(error, attempts, maybeApplied);
        failure = { error, sent: !NO_EFFECT_CODES.has(error.code), server: true };
      } catch (err) {
        if (err instanceof CairnClientError) throw err;
        if (this.closed) throw this.closedError();
        if (req.signal?.aborted) throw abortedError();
        const code = deadline.aborted ? "TimeoutError" : fetchErrorCode(err);
        const sent = !NOT_SENT_CODES.has(code);
        const message = deadline.aborted
          ? `${req.what}: no answer from ${endpoint} within ${this.requestTimeoutMs} ms`
          : `${req.what}: connection to ${endpoint} failed (${code})`;
        failure = {
          error: new CairnClientError("unavailable", message, { endpoint, cause: err }),
          sent,
          server: false,
        };
      }
      this.markFailed(endpoint);
      if (failure.sent && !req.idempotent) {
        throw new CairnClientError(
          "unknown_outcome",
          `${req.what}: the outcome is unknown (${failure.error.message}); it was not retried because it is not idempotent — read the key to find out`,
          {
            endpoint,
            attempts,
            maybeAppliedEarlier: maybeApplied,
            cause: failure.error,
            ...(failure.error.status === undefined ? {} : { status: failure.error.status }),
          },
        );
      }
      if (failure.sent) maybeApplied = true;
      if (attempts >= this.maxAttempts) {
        if (failure.server) throw annotate(failure.error, attempts, maybeApplied);
        throw new CairnClientError(
          "unavailable",
          `${req.what}: no endpoint answered after ${attempts} attempts (last: ${failure.error.message})`,
          { endpoint, attempts, maybeAppliedEarlier: maybeApplied, cause: failure.error },
        );
      }
      // A refused connection moves straight on to the next endpoint until each was tried once;
      // anything else (and a whole round of refusals) waits a back-off first.
      connectFailuresInRow = failure.sent || failure.server ? 0 : connectFailuresInRow + 1;
      const immediate = connectFailuresInRow > 0 && connectFailuresInRow < this.endpoints.length;
      if (!immediate) {
        const signals2 = [this.closing.signal];
        if (req.signal) signals2.push(req.signal);
        try {
          await sleep(this.backoff.delayMs(attempts - 1), AbortSignal.any(signals2));
        } catch (err) {
          if (this.closed) throw this.closedError();
          throw err;
        }
      }
    }
  }

  /** {@link call}, then the body parsed as JSON. @throws as call; "bad_response" when not JSON */
  async json(req: HttpRequest): Promise<{ json: unknown; res: HttpResponse }> {
    const res = await this.call(req);
    try {
      return { json: JSON.parse(new TextDecoder().decode(res.body)), res };
    } catch (err) {
      throw new CairnClientError("bad_response", `${req.what}: the answer from ${res.endpoint} is not JSON`, {
        endpoint: res.endpoint,
        cause: err,
      });
    }
  }
}
