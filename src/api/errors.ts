/**
 * The API's single error mapper (installed as the app's onError). Turns whatever a route threw
 * into the contract's response:
 * - /v1 and the rest: HTTP status by code + `{"error":{"code","message",...details}}` (details in
 *   snake_case, e.g. "compact_revision"); retryable codes (src/util/errors.ts RETRYABLE_CODES)
 *   → 503 (too_many_requests: 429) with `Retry-After: 1`.
 * - /v3 (etcd's JSON gateway): etcd 3.4 grpc-gateway's body `{"error","code","message"}` with the
 *   gRPC code and etcd's message text (etcd api/v3rpc/rpctypes/error.go), and the HTTP status
 *   grpc-gateway derives from that code (runtime.HTTPStatusFromCode).
 * zod errors and malformed JSON become invalid_argument naming the field path; unknown errors
 * become 500 internal and are logged.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { CairnError, type ErrorCode } from "../util/errors.ts";

/** The subset of a pino logger the API uses. */
export interface ApiLogger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** HTTP status of each code on /v1 (the API contract). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_argument: 400,
  invalid_value: 400,
  future_revision: 400,
  payload_too_large: 413,
  key_not_found: 404,
  not_found: 404,
  precondition_failed: 412,
  compacted: 410,
  no_leader: 503,
  leader_changed: 503,
  timeout: 503,
  stopped: 503,
  too_many_requests: 429,
  leader_transferring: 503,
  conf_change_pending: 409,
  member_exists: 409,
  member_not_found: 404,
  learner_not_ready: 409,
  unhealthy_cluster: 409,
  member_removed: 410,
  lease_not_found: 404,
  lease_exists: 409,
  lease_ttl_too_large: 400,
  deadline_exceeded: 408,
  session_expired: 410,
  election_no_leader: 404,
  election_not_leader: 412,
  internal: 500,
};

/** gRPC status codes (google.golang.org/grpc/codes) used on /v3. */
const GRPC = {
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  OUT_OF_RANGE: 11,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** gRPC code and, where etcd has a fixed one, etcd's message for each code (rpctypes/error.go). */
const GRPC_OF: Readonly<Record<ErrorCode, { code: number; etcdMessage?: string }>> = {
  invalid_argument: { code: GRPC.INVALID_ARGUMENT },
  invalid_value: { code: GRPC.INVALID_ARGUMENT },
  payload_too_large: { code: GRPC.INVALID_ARGUMENT, etcdMessage: "etcdserver: request is too large" },
  key_not_found: { code: GRPC.INVALID_ARGUMENT, etcdMessage: "etcdserver: key not found" },
  not_found: { code: GRPC.NOT_FOUND },
  precondition_failed: { code: GRPC.FAILED_PRECONDITION },
  compacted: {
    code: GRPC.OUT_OF_RANGE,
    etcdMessage: "etcdserver: mvcc: required revision has been compacted",
  },
  future_revision: {
    code: GRPC.OUT_OF_RANGE,
    etcdMessage: "etcdserver: mvcc: required revision is a future revision",
  },
  no_leader: { code: GRPC.UNAVAILABLE, etcdMessage: "etcdserver: no leader" },
  leader_changed: { code: GRPC.UNAVAILABLE, etcdMessage: "etcdserver: leader changed" },
  timeout: { code: GRPC.UNAVAILABLE, etcdMessage: "etcdserver: request timed out" },
  stopped: { code: GRPC.UNAVAILABLE, etcdMessage: "etcdserver: server stopped" },
  too_many_requests: { code: GRPC.RESOURCE_EXHAUSTED, etcdMessage: "etcdserver: too many requests" },
  leader_transferring: { code: GRPC.UNAVAILABLE, etcdMessage: "etcdserver: leadership transfer in progress" },
  conf_change_pending: { code: GRPC.FAILED_PRECONDITION },
  member_exists: { code: GRPC.FAILED_PRECONDITION },
  member_not_found: { code: GRPC.NOT_FOUND, etcdMessage: "etcdserver: member not found" },
  learner_not_ready: { code: GRPC.FAILED_PRECONDITION },
  unhealthy_cluster: { code: GRPC.FAILED_PRECONDITION, etcdMessage: "etcdserver: unhealthy cluster" },
  member_removed: {
    code: GRPC.FAILED_PRECONDITION,
    etcdMessage: "etcdserver: the member has been permanently removed from the cluster",
  },
  lease_not_found: { code: GRPC.NOT_FOUND, etcdMessage: "etcdserver: requested lease not found" },
  lease_exists: { code: GRPC.FAILED_PRECONDITION, etcdMessage: "etcdserver: lease already exists" },
  lease_ttl_too_large: { code: GRPC.OUT_OF_RANGE, etcdMessage: "etcdserver: too large lease TTL" },
  // etcd's v3lock / v3election servers return these as plain errors: gRPC Unknown, HTTP 500.
  deadline_exceeded: { code: GRPC.DEADLINE_EXCEEDED, etcdMessage: "context deadline exceeded" },
  session_expired: { code: GRPC.UNKNOWN, etcdMessage: "session expired" },
  election_no_leader: { code: GRPC.UNKNOWN, etcdMessage: "election: no leader" },
  election_not_leader: { code: GRPC.UNKNOWN, etcdMessage: "election: not leader" },
  internal: { code: GRPC.INTERNAL },
};

/** etcd 3.4's grpc-gateway runtime.HTTPStatusFromCode for the codes above. */
function httpStatusOfGrpc(code: number): number {
  switch (code) {
    case GRPC.INVALID_ARGUMENT:
    case GRPC.OUT_OF_RANGE:
      return 400;
    case GRPC.FAILED_PRECONDITION:
      return 412; // etcd 3.4's grpc-gateway (seen from etcd 3.4.23: member exists, unhealthy cluster)
    case GRPC.NOT_FOUND:
      return 404;
    case GRPC.RESOURCE_EXHAUSTED:
      return 429;
    case GRPC.UNAVAILABLE:
      return 503;
    case GRPC.DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

/** `success[0].put.key` from a zod issue path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "body" : out;
}

/**
 * A zod error as invalid_argument: "<field path>: <problem>" for the first few issues.
 * @returns CairnError "invalid_argument"
 */
export function fromZodError(err: z.core.$ZodError): CairnError {
  const shown = err.issues.slice(0, 5).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  if (err.issues.length > shown.length) shown.push(`and ${err.issues.length - shown.length} more`);
  return new CairnError("invalid_argument", shown.join("; "));
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
}

/** Normalizes anything thrown into a CairnError; logs what is not one. */
export function toCairnError(err: unknown, c: Context, logger?: ApiLogger): CairnError {
  if (err instanceof CairnError) return err;
  if (err instanceof z.core.$ZodError) return fromZodError(err);
  if (err instanceof HTTPException) {
    if (err.status === 413) return new CairnError("payload_too_large", err.message || "payload too large");
    if (err.status < 500) return new CairnError("invalid_argument", err.message || `HTTP ${err.status}`);
  }
  logger?.error({ err, method: c.req.method, path: c.req.path }, "internal error in API handler");
  return new CairnError("internal", "internal error");
}

/**
 * The message etcd's gateway gives for `e`: etcd's fixed text for its code, else `e.message`.
 * Used by routes that answer some errors with another gRPC code than {@link errorResponse}'s.
 */
export function gatewayMessage(e: CairnError): string {
  return GRPC_OF[e.code].etcdMessage ?? e.message;
}

/**
 * True for the etcd gateway paths (/v3/...), which answer errors in grpc-gateway's shape.
 * @param path the request path
 */
export function isGatewayPath(path: string): boolean {
  return path.startsWith("/v3/");
}

/**
 * Builds the error response for `err` (the app's onError).
 * @returns a JSON Response with the status and body described in the module comment
 */
export function errorResponse(err: unknown, c: Context, logger?: ApiLogger): Response {
  const e = toCairnError(err, c, logger);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (e.retryable) headers["retry-after"] = "1";
  if (isGatewayPath(c.req.path)) {
    const { code, etcdMessage } = GRPC_OF[e.code];
    const message = etcdMessage ?? e.message;
    return new Response(JSON.stringify({ error: message, message, code }), {
      status: httpStatusOfGrpc(code),
      headers,
    });
  }
  const body: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.details) {
    for (const [k, v] of Object.entries(e.details)) {
      const name = snakeCase(k);
      if (name !== "code" && name !== "message") body[name] = v;
    }
  }
  return new Response(JSON.stringify({ error: body }), { status: HTTP_STATUS[e.code], headers });
}

/** net/http StatusText of the statuses httpStatusOfGrpc gives. */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "Bad Request",
  404: "Not Found",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * A failure inside a gateway stream whose 200 response has already started (POST /v3/watch), as
 * grpc-gateway v1 writes it for a streaming call: the last line of the stream,
 * `{"error":{"grpc_code","http_code","message","http_status"}}`, with the same codes and etcd
 * messages as {@link errorResponse}.
 */
export function gatewayStreamError(err: unknown, c: Context, logger?: ApiLogger): Record<string, unknown> {
  const e = toCairnError(err, c, logger);
  const { code, etcdMessage } = GRPC_OF[e.code];
  const httpCode = httpStatusOfGrpc(code);
  return {
    error: {
      grpc_code: code,
      http_code: httpCode,
      message: etcdMessage ?? e.message,
      http_status: STATUS_TEXT[httpCode] ?? "Internal Server Error",
    },
  };
}
