/**
 * Errors of the Cairn client. Every failure is a {@link CairnClientError} with a stable `code`:
 * either the server's code (src/util/errors.ts ErrorCode, from the `{error:{code,message}}` body
 * of a non-2xx answer) or one of the client's own codes ({@link ClientOnlyCode}).
 */
import { type ErrorCode, RETRYABLE_CODES } from "../util/errors.ts";

/**
 * Codes only the client produces:
 * - `unknown_outcome`: a write (put, delete, txn with writes, proclaim) failed in a way that does
 *   not say whether the server applied it (connection lost after the request was sent, request
 *   timeout, 503 `timeout` / `leader_changed` / `stopped`). It was NOT retried; read the key to
 *   find out. `cause` holds the underlying error.
 * - `unavailable`: every attempt failed with a connection error or a retryable answer and the
 *   retry budget is spent (for reads and other retry-safe calls).
 * - `lease_lost`: a lease's keep-alive stopped (expired, revoked, or not renewed within its TTL).
 * - `session_expired`: a lock or election key disappeared while waiting (its lease was lost).
 * - `not_leader`: proclaim / resign on an election this client does not lead (etcd
 *   ErrElectionNotLeader).
 * - `no_leader_elected`: `leader()` of an election with no candidate (etcd ErrElectionNoLeader).
 * - `closed`: the client, watch, lease or session was closed.
 * - `aborted`: the caller's AbortSignal fired.
 * - `bad_response`: the server answered something that is not the documented shape.
 */
export type ClientOnlyCode =
  | "unknown_outcome"
  | "unavailable"
  | "lease_lost"
  | "session_expired"
  | "not_leader"
  | "no_leader_elected"
  | "closed"
  | "aborted"
  | "bad_response";

/** Every code a {@link CairnClientError} may carry. */
export type ClientErrorCode = ErrorCode | ClientOnlyCode;

/**
 * Server error codes that prove a write had no effect: the member refused it before proposing it to
 * Raft (src/server/node.ts propose(): `too_many_requests` is checked first, `no_leader` is thrown by
 * the wait for a leader or by raft.propose, `leader_transferring` by raft.propose on a leader that
 * is handing over; a proposal that raft.propose refuses never enters the log). Writes that fail with
 * one of these are retried like reads. Not included: `timeout` (the proposal may still commit),
 * `leader_changed` (pending proposals of a leader that steps down "may still commit"), `stopped`
 * (also used to fail proposals that are already in the log when a member shuts down).
 */
export const NO_EFFECT_CODES: ReadonlySet<string> = new Set([
  "no_leader",
  "leader_transferring",
  "too_many_requests",
]);

/** Retryable server codes (src/util/errors.ts RETRYABLE_CODES), as plain strings. */
export const RETRYABLE_SERVER_CODES: ReadonlySet<string> = RETRYABLE_CODES as ReadonlySet<string>;

/** Extra facts of a client error. */
export interface ClientErrorInit {
  /** HTTP status of the server's answer, absent for connection errors and client-side checks. */
  status?: number;
  /** Endpoint (base URL) of the last attempt. */
  endpoint?: string;
  /** Structured details of the server's error body (snake_case names as sent), e.g. compact_revision. */
  details?: Record<string, unknown>;
  /** Attempts made (1 when not retried). */
  attempts?: number;
  /**
   * True when an earlier attempt of the same call may have been applied (it failed with an unknown
   * outcome and a retry-safe call was retried): e.g. a revoke answered lease_not_found after such a
   * retry most likely revoked it the first time.
   */
  maybeAppliedEarlier?: boolean;
  cause?: unknown;
}

/**
 * The one error type the client throws (or reports through watch / lease callbacks).
 * @param code server code or client code ({@link ClientErrorCode})
 */
export class CairnClientError extends Error {
  readonly code: ClientErrorCode;
  readonly status: number | undefined;
  readonly endpoint: string | undefined;
  readonly details: Record<string, unknown>;
  readonly attempts: number;
  readonly maybeAppliedEarlier: boolean;

  constructor(code: ClientErrorCode, message: string, init: ClientErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "CairnClientError";
    this.code = code;
    this.status = init.status;
    this.endpoint = init.endpoint;
    this.details = init.details ?? {};
    this.attempts = init.attempts ?? 1;
    this.maybeAppliedEarlier = init.maybeAppliedEarlier ?? false;
  }

  /** True for the server's retryable codes (503 / 429 answers). */
  get retryable(): boolean {
    return RETRYABLE_SERVER_CODES.has(this.code);
  }
}

/**
 * A read or a watch asked for history that compaction removed (server code `compacted`, HTTP 410,
 * or a watch's final `compacted` event). Read the current state again, then watch from that read's
 * revision + 1 (etcd: ErrCompacted, WatchResponse.CompactRevision).
 */
export class CompactedError extends CairnClientError {
  /** The compact revision: history at or below it is gone. */
  readonly compactRevision: number;

  constructor(compactRevision: number, message: string, init: ClientErrorInit = {}) {
    super("compacted", message, init);
    this.name = "CompactedError";
    this.compactRevision = compactRevision;
  }
}

/** True when `err` is a {@link CairnClientError} with code `code`. */
export function isClientError(err: unknown, code?: ClientErrorCode): err is CairnClientError {
  return err instanceof CairnClientError && (code === undefined || err.code === code);
}
