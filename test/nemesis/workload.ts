/**
 * The clients of the nemesis: concurrent loops that each issue one single-key operation at a time
 * (put, linearizable get, delete, compare-and-swap with If-Match on the mod_revision last seen or
 * If-None-Match: *, compare-and-delete) through the /v1 HTTP API of a random member, with unique
 * values, and record every call and outcome in a {@link HistoryRecorder} for the linearizability
 * checker (test/lincheck).
 *
 * How an answer is recorded (history.ts):
 * - 200, and 404 key_not_found for a get, and 412 for a conditional write (the compare failed):
 *   `ok` with the output.
 * - A write answered 503/429 with a code that is raised before anything is proposed (no_leader,
 *   leader_transferring, too_many_requests: src/server/node.ts propose(), src/raft/core.ts
 *   checkCanPropose()), or a refused connection: `fail` (it had no effect).
 * - Any other 503 (timeout, leader_changed, stopped: the proposal may still commit), a reset or
 *   a timeout: `unknown`. Anything else is `unknown` too and is listed as unexpected.
 *
 * Compare-and-swap maps to the checker's value compare because values are unique: a key has the
 * mod_revision R at which value V was written exactly when its value is V (V is written once), so
 * `If-Match: "R"` is `cas(expected V)`, and `If-None-Match: *` (key absent) is `cas(expected null)`.
 */
import type { HistoryRecorder, Outcome } from "../lincheck/history.ts";
import type { KvInput, KvOutput } from "../lincheck/kv-model.ts";
import type { Rng } from "../sim/rng.ts";
import { errorCode, type HttpClient, type HttpResponse, type HttpResult } from "./http.ts";

/** Error codes a write is answered with before it is proposed: such a write had no effect. */
const NO_EFFECT_CODES: ReadonlySet<string> = new Set([
  "no_leader",
  "leader_transferring",
  "too_many_requests",
]);

/** Most unexpected answers kept for the report. */
const MAX_UNEXPECTED = 20;

/** Options of a {@link Workload}. */
export interface WorkloadOptions {
  /** Number of concurrent client loops (each runs one operation at a time). */
  clients: number;
  /** The keys operated on (a small set, so operations contend). */
  keys: readonly string[];
  /** Deadline of each request (ms); past it the operation is `unknown`. */
  requestTimeoutMs: number;
  /** Each client pauses a random 0..thinkMs ms between two operations. */
  thinkMs: number;
  /** Source of the clients' random choices. */
  rng: Rng;
  /** Client URLs of the members to pick from (called before each operation; never empty). */
  endpoints: () => readonly string[];
  http: HttpClient;
  recorder: HistoryRecorder<KvInput, KvOutput>;
}

/** Counts of outcomes per operation kind. */
export type OutcomeCounts = Record<KvInput["op"], { ok: number; fail: number; unknown: number }>;

/** What the clients did. */
export interface WorkloadStats {
  operations: number;
  byOp: OutcomeCounts;
  /** Why operations were not `ok`, e.g. "503 timeout" or "ECONNREFUSED", with counts. */
  notOkReasons: Record<string, number>;
  /** Answers outside the API contract (first few), e.g. a 500; each recorded as unknown. */
  unexpected: string[];
}

/** What one client last learned about a key: its value and the mod_revision it was written at. */
export interface Seen {
  value: string | null;
  modRevision: number;
}

/** Concurrent clients recording a history; {@link start} then {@link stop}. */
export class Workload {
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly stats_: WorkloadStats;

  constructor(private readonly opts: WorkloadOptions) {
    const zero = () => ({ ok: 0, fail: 0, unknown: 0 });
    this.stats_ = {
      operations: 0,
      byOp: { get: zero(), put: zero(), delete: zero(), cas: zero(), casDelete: zero() },
      notOkReasons: {},
      unexpected: [],
    };
  }

  /** Starts the client loops. */
  start(): void {
    for (let c = 0; c < this.opts.clients; c++) this.loops.push(this.clientLoop(c, this.opts.rng.fork()));
  }

  /** Stops the loops and waits for their last operations (each bounded by requestTimeoutMs). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  /** Counters so far. */
  stats(): WorkloadStats {
    return structuredClone(this.stats_);
  }

  private async clientLoop(client: number, rng: Rng): Promise<void> {
    const seen = new Map<string, Seen>();
    let seq = 0;
    while (!this.stopping) {
      const key = rng.pick(this.opts.keys);
      const value = `c${client}-${++seq}`;
      const last = seen.get(key);
      const r = rng.float();
      let input: KvInput;
      if (r < 0.35) input = { op: "get", key };
      else if (r < 0.6) input = { op: "put", key, value };
      else if (r < 0.85) input = { op: "cas", key, expected: last?.value ?? null, value };
      else if (r < 0.95 || last === undefined || last.value === null) input = { op: "delete", key };
      else input = { op: "casDelete", key, expected: last.value };
      const endpoint = rng.pick(this.opts.endpoints());
      await this.execute(`client-${client}`, endpoint, input, last, seen);
      const think = rng.int(0, this.opts.thinkMs);
      if (think > 0) await new Promise((res) => setTimeout(res, think));
    }
  }

  /**
   * Runs one operation against `endpoint` and records it. `last` is what this client last saw of
   * the key (its mod_revision makes the If-Match of a cas); `seen` is updated with what it learns.
   * Public so that the final reads of a run are recorded the same way.
   * @returns the outcome as recorded
   */
  async execute(
    client: string,
    endpoint: string,
    input: KvInput,
    last?: Seen,
    seen?: Map<string, Seen>,
  ): Promise<Outcome<KvOutput>> {
    const { recorder, http, requestTimeoutMs } = this.opts;
    const path = `/v1/kv/${encodeURIComponent(input.key)}`;
    const headers: Record<string, string> = {};
    let method: "GET" | "PUT" | "DELETE";
    let body: string | undefined;
    switch (input.op) {
      case "get":
        method = "GET";
        break;
      case "put":
        method = "PUT";
        body = input.value;
        break;
      case "cas":
        method = "PUT";
        body = input.value;
        if (input.expected === null) headers["if-none-match"] = "*";
        else headers["if-match"] = `"${last!.modRevision}"`;
        break;
      case "delete":
        method = "DELETE";
        break;
      case "casDelete":
        method = "DELETE";
        headers["if-match"] = `"${last!.modRevision}"`;
        break;
    }
    const id = recorder.call(client, input, performance.now());
    const res = await http.request({
      method,
      baseUrl: endpoint,
      path,
      headers,
      body,
      timeoutMs: requestTimeoutMs,
    });
    const now = performance.now();
    const outcome = this.interpret(input, res, seen);
    const counts = this.stats_.byOp[input.op];
    this.stats_.operations++;
    if (outcome.type === "ok") {
      recorder.ok(id, outcome.output, now);
      counts.ok++;
      return outcome;
    }
    this.stats_.notOkReasons[outcome.reason] = (this.stats_.notOkReasons[outcome.reason] ?? 0) + 1;
    if (outcome.type === "fail") {
      recorder.fail(id, now);
      counts.fail++;
      return { type: "fail" };
    }
    recorder.unknown(id);
    counts.unknown++;
    if (outcome.unexpected && this.stats_.unexpected.length < MAX_UNEXPECTED) {
      this.stats_.unexpected.push(`${method} ${endpoint}${path}: ${outcome.reason}`);
    }
    return { type: "unknown" };
  }

  private interpret(
    input: KvInput,
    res: HttpResult,
    seen?: Map<string, Seen>,
  ):
    | { type: "ok"; output: KvOutput }
    | { type: "fail"; reason: string }
    | { type: "unknown"; reason: string; unexpected?: boolean } {
    if (res.kind === "error") {
      if (!res.sent) return { type: "fail", reason: res.code };
      return { type: "unknown", reason: res.code };
    }
    const code = errorCode(res);
    const reason = `${res.status} ${code || res.body.slice(0, 200)}`;
    switch (input.op) {
      case "get":
        if (res.status === 200) {
          const modRevision = Number(res.headers["x-cairn-mod-revision"]);
          if (!Number.isSafeInteger(modRevision) || modRevision <= 0) {
            return { type: "unknown", reason: `200 without x-cairn-mod-revision`, unexpected: true };
          }
          seen?.set(input.key, { value: res.body, modRevision });
          return { type: "ok", output: { value: res.body } };
        }
        if (res.status === 404 && code === "key_not_found") {
          seen?.set(input.key, { value: null, modRevision: 0 });
          return { type: "ok", output: { value: null } };
        }
        return { type: "unknown", reason, unexpected: res.status !== 503 };
      case "put":
      case "cas": {
        if (res.status === 200) {
          const revision = jsonRevision(res);
          if (revision === null) return { type: "unknown", reason: "200 without revision", unexpected: true };
          seen?.set(input.key, { value: input.value, modRevision: revision });
          return { type: "ok", output: input.op === "put" ? {} : { succeeded: true } };
        }
        if (res.status === 412 && input.op === "cas") {
          seen?.delete(input.key); // the current value is unknown to this client now
          return { type: "ok", output: { succeeded: false } };
        }
        return this.writeError(res, code, reason);
      }
      case "delete":
      case "casDelete": {
        if (res.status === 200) {
          const deleted = jsonDeleted(res);
          if (deleted === null) return { type: "unknown", reason: "200 without deleted", unexpected: true };
          seen?.set(input.key, { value: null, modRevision: 0 });
          if (input.op === "delete") return { type: "ok", output: { deleted } };
          if (deleted !== 1)
            return { type: "unknown", reason: `casDelete deleted=${deleted}`, unexpected: true };
          return { type: "ok", output: { succeeded: true } };
        }
        if (res.status === 412 && input.op === "casDelete") {
          seen?.delete(input.key);
          return { type: "ok", output: { succeeded: false } };
        }
        return this.writeError(res, code, reason);
      }
    }
  }

  private writeError(
    res: HttpResponse,
    code: string,
    reason: string,
  ): { type: "fail"; reason: string } | { type: "unknown"; reason: string; unexpected?: boolean } {
    if ((res.status === 503 || res.status === 429) && NO_EFFECT_CODES.has(code))
      return { type: "fail", reason };
    return { type: "unknown", reason, unexpected: res.status !== 503 };
  }
}

function jsonRevision(res: HttpResponse): number | null {
  try {
    const r = (JSON.parse(res.body) as { revision?: unknown }).revision;
    return typeof r === "number" && Number.isSafeInteger(r) && r > 0 ? r : null;
  } catch {
    return null;
  }
}

function jsonDeleted(res: HttpResponse): 0 | 1 | null {
  try {
    const d = (JSON.parse(res.body) as { deleted?: unknown }).deleted;
    return d === 0 || d === 1 ? d : null;
  } catch {
    return null;
  }
}
