/**
 * A small HTTP client over a list of Cairn endpoints with failover, for the `cairn` CLI.
 *
 * Retry rules (safe by construction, like etcd's clientv3 retry policy that retries mutations
 * only when the request provably never reached the server):
 * - reads (`kind: "read"`) move to the next endpoint on any connection error and on any
 *   retryable error code (src/util/errors.ts RETRYABLE_CODES);
 * - writes move on only when the request provably did not apply: the connection was never
 *   established (ECONNREFUSED, unknown host, connect timeout), or the server answered
 *   "no_leader" / "too_many_requests" (refused before proposing). A reset after sending, a
 *   "timeout" or "leader_changed" answer stops at once: the write may have applied.
 * - non-retryable errors (4xx, "internal") stop at once;
 * - attempts are bounded ({@link ClientOptions.maxAttempts}); after each full round over the
 *   endpoints the client backs off (`backoffMs` x round); the whole call is bounded by
 *   `commandTimeoutMs`.
 */
import { CairnError, type ErrorCode, RETRYABLE_CODES } from "../util/errors.ts";
import { fetchErrorCode, NOT_SENT_CODES } from "../util/fetch-error.ts";

/** Error codes a server returns before proposing a write: retrying a write elsewhere is safe. */
const WRITE_SAFE_CODES: ReadonlySet<string> = new Set(["no_leader", "too_many_requests"]);

/** What the request does to the cluster; decides which failures may be retried elsewhere. */
export type RequestKind = "read" | "write";

/** One HTTP request against "the cluster". */
export interface HttpRequest {
  method: "GET" | "PUT" | "POST" | "DELETE";
  /** Path and query, already percent-encoded, starting with "/". */
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  kind: RequestKind;
  /** Statuses to hand back as answers instead of errors (e.g. 503 for /health). */
  acceptStatuses?: readonly number[];
}

/** An answer: 2xx or one of `acceptStatuses`. */
export interface HttpResponse {
  /** The endpoint that answered. */
  endpoint: string;
  status: number;
  headers: Headers;
  body: Uint8Array;
}

/** Construction options. */
export interface ClientOptions {
  /** Base URLs like http://127.0.0.1:2379, tried in order. */
  endpoints: readonly string[];
  /** Deadline of one call, retries included, in ms (etcdctl --command-timeout). */
  commandTimeoutMs: number;
  /** Most attempts per call; default: 2 rounds over the endpoints, at least 3. */
  maxAttempts?: number;
  /** Back-off after each full round over the endpoints, in ms, times the round number. Default 100. */
  backoffMs?: number;
}

/** The server could not be reached, or its connection failed; `notSent` when the request provably never left. */
export class ConnectionError extends Error {
  override name = "ConnectionError";
  constructor(
    readonly endpoint: string,
    readonly code: string,
    readonly notSent: boolean,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Normalizes one --endpoints entry: adds "http://" when no scheme is given (etcdctl accepts
 * host:port), drops a trailing slash.
 * @throws CairnError("invalid_argument") when it is not an http(s) URL with a host
 */
export function normalizeEndpoint(raw: string): string {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new CairnError("invalid_argument", `invalid endpoint '${raw}'`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw new CairnError("invalid_argument", `invalid endpoint '${raw}' (expected http(s)://host:port)`);
  }
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
}

/** Parses the API's error body `{"error":{"code","message",...}}` into a CairnError. */
export function errorFromResponse(status: number, body: Uint8Array, endpoint: string): CairnError {
  const text = Buffer.from(body).toString("utf8");
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const err = parsed.error;
    if (err && typeof err.code === "string" && typeof err.message === "string") {
      const { code, message, ...details } = err as Record<string, unknown>;
      return new CairnError(code as ErrorCode, message as string, { ...details, status, endpoint });
    }
  } catch {
    // not JSON: fall through
  }
  const snippet = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  return new CairnError(
    status >= 500 ? "internal" : "invalid_argument",
    `HTTP ${status} from ${endpoint}: ${snippet}`,
    {
      status,
      endpoint,
    },
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Failover client over a fixed endpoint list. */
export class FailoverClient {
  readonly endpoints: readonly string[];
  private readonly commandTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  /** Index of the endpoint that answered last; the next call starts there. */
  private preferred = 0;

  /** @throws CairnError("invalid_argument") on an empty list, a bad endpoint or a bad timeout */
  constructor(options: ClientOptions) {
    if (options.endpoints.length === 0) throw new CairnError("invalid_argument", "no endpoints given");
    if (!(options.commandTimeoutMs > 0)) {
      throw new CairnError(
        "invalid_argument",
        `command timeout must be positive, got ${options.commandTimeoutMs}`,
      );
    }
    this.endpoints = options.endpoints.map(normalizeEndpoint);
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.maxAttempts = options.maxAttempts ?? Math.max(3, 2 * this.endpoints.length);
    this.backoffMs = options.backoffMs ?? 100;
  }

  /**
   * Sends `req` to the endpoints in turn, following the retry rules of this module.
   * @returns the first 2xx (or accepted) answer
   * @throws CairnError from the server (non-retryable, or the last retryable one),
   *   ConnectionError when no endpoint could be reached, CairnError("timeout") at the deadline
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    const deadline = AbortSignal.timeout(this.commandTimeoutMs);
    const n = this.endpoints.length;
    const failures: string[] = [];
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0 && attempt % n === 0) await sleep(this.backoffMs * (attempt / n), deadline);
      if (deadline.aborted) break;
      const index = (this.preferred + attempt) % n;
      const endpoint = this.endpoints[index]!;
      let res: HttpResponse;
      try {
        res = await this.send(endpoint, req, deadline);
      } catch (e) {
        if (deadline.aborted) break;
        if (!(e instanceof ConnectionError)) throw e;
        lastError = e;
        failures.push(`${endpoint}: ${e.message}`);
        if (req.kind === "write" && !e.notSent) {
          throw new ConnectionError(
            endpoint,
            e.code,
            false,
            `${endpoint}: ${e.message}; the write may or may not have been applied`,
          );
        }
        continue;
      }
      if ((res.status >= 200 && res.status < 300) || req.acceptStatuses?.includes(res.status)) {
        this.preferred = index;
        return res;
      }
      const err = errorFromResponse(res.status, res.body, endpoint);
      const retry = req.kind === "read" ? RETRYABLE_CODES.has(err.code) : WRITE_SAFE_CODES.has(err.code);
      if (!retry) throw err;
      lastError = err;
      failures.push(`${endpoint}: ${err.message} (${err.code})`);
    }
    if (deadline.aborted) {
      const tried = failures.length > 0 ? `; tried ${[...new Set(failures)].join("; ")}` : "";
      throw new CairnError(
        "timeout",
        `context deadline exceeded: no answer within ${this.commandTimeoutMs}ms (--command-timeout)${tried}`,
      );
    }
    if (lastError instanceof CairnError) throw lastError;
    throw new ConnectionError(
      this.endpoints.join(","),
      lastError instanceof ConnectionError ? lastError.code : "UNKNOWN",
      lastError instanceof ConnectionError ? lastError.notSent : false,
      `all endpoints failed after ${this.maxAttempts} attempts: ${[...new Set(failures)].join("; ")}`,
    );
  }

  /**
   * Sends `req` to one endpoint only, with no failover (endpoint status/health ask each member).
   * @throws CairnError from the server, ConnectionError, CairnError("timeout") at the deadline
   */
  async requestOne(endpoint: string, req: HttpRequest): Promise<HttpResponse> {
    const ep = normalizeEndpoint(endpoint);
    const deadline = AbortSignal.timeout(this.commandTimeoutMs);
    let res: HttpResponse;
    try {
      res = await this.send(ep, req, deadline);
    } catch (e) {
      if (deadline.aborted) {
        throw new CairnError(
          "timeout",
          `context deadline exceeded: no answer from ${ep} within ${this.commandTimeoutMs}ms`,
        );
      }
      throw e;
    }
    if ((res.status >= 200 && res.status < 300) || req.acceptStatuses?.includes(res.status)) return res;
    throw errorFromResponse(res.status, res.body, ep);
  }

  /** One fetch, body read to the end. @throws ConnectionError on any transport failure */
  private async send(endpoint: string, req: HttpRequest, signal: AbortSignal): Promise<HttpResponse> {
    let response: Response;
    try {
      response = await fetch(endpoint + req.path, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        signal,
        redirect: "manual",
      });
    } catch (e) {
      const code = fetchErrorCode(e);
      const notSent = NOT_SENT_CODES.has(code);
      throw new ConnectionError(endpoint, code, notSent, describe(code, e));
    }
    try {
      const body = new Uint8Array(await response.arrayBuffer());
      return { endpoint, status: response.status, headers: response.headers, body };
    } catch (e) {
      const code = fetchErrorCode(e);
      throw new ConnectionError(endpoint, code, false, `connection lost while reading the answer (${code})`);
    }
  }
}

function describe(code: string, error: unknown): string {
  if (code === "ECONNREFUSED" || code === "ConnectionRefused") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `unknown host (${code})`;
  return code === "UNKNOWN" ? innermostMessage(error) : `${innermostMessage(error)} (${code})`;
}

/** The message of the deepest `cause` (undici's own message is only "fetch failed"). */
function innermostMessage(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    message = e.message || message;
    e = e.cause;
  }
  return message;
}
