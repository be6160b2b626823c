/**
 * Simulated clients: each runs one call at a time against a random member (as a client with a
 * list of endpoints would), on a few keys, with unique values, and records every call in a
 * linearizability history (test/lincheck/history.ts):
 * - get: a linearizable range of one key (ReadIndex); output `{ value }`;
 * - put: output `{}`;
 * - delete: a deleteRange of one key; output `{ deleted: 0 | 1 }`;
 * - cas: a txn `value(key) == expected` (or `create_revision(key) == 0` for an absent key) then put;
 *   casDelete: the same compare then delete; output `{ succeeded }`.
 * A request reaches its member 0–2 ms after the call and the answer the client 0–2 ms after it
 * is given (the client's own network). Outcomes: the KvStore's response → `ok`; an error that guarantees no effect (no leader before
 * proposing, refused connection, a command the store rejected) → `fail`; a timeout, a lost
 * leadership or no answer before the call's deadline → `unknown`.
 */
import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from "../../../src/mvcc/types.ts";
import type { HistoryRecorder } from "../../lincheck/history.ts";
import type { KvInput, KvOutput } from "../../lincheck/kv-model.ts";
import type { Rng } from "../rng.ts";
import type { Answer, KvNode } from "./node.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Error codes after which the call certainly had no effect. */
const DEFINITE_FAILURES = new Set([
  "no_leader",
  "too_many_requests",
  "leader_transferring",
  "invalid_argument",
  "key_not_found",
  "compacted",
  "future_revision",
]);

/** An acknowledged write, for the lost-write check. */
export interface AckedWrite {
  opId: number;
  key: string;
  /** Value written, null for a delete. */
  value: string | null;
}

/** What clients need from the cluster. */
export interface ClientHost {
  sched: Scheduler;
  trace: Trace;
  history: HistoryRecorder<KvInput, KvOutput>;
  /** Members a client may call (down ones refuse the connection). */
  endpoints(): KvNode[];
  /** Acknowledged writes of every client. */
  acked: AckedWrite[];
  /** Calls not settled yet. */
  pendingCalls: number;
  /** Latency of the clients' own network. */
  clientNetRng: Rng;
}

/** Calls one operation on `node` and records it; `then` runs once it is settled. */
export function callOnce(
  host: ClientHost,
  client: string,
  node: KvNode,
  input: KvInput,
  deadlineMs: number,
  then: (output: KvOutput | null) => void,
): void {
  const { sched, history } = host;
  const rng = host.clientNetRng;
  const id = history.call(client, input, sched.nowMs);
  host.trace.add("call", client, id, node.name, input.op, input.key, "value" in input ? input.value : "");
  let settled = false;
  host.pendingCalls++;
  const settleNow = (outcome: "ok" | "fail" | "unknown", output?: KvOutput) => {
    if (settled) return;
    settled = true;
    host.pendingCalls--;
    if (outcome === "ok") history.ok(id, output!, sched.nowMs);
    else if (outcome === "fail") history.fail(id, sched.nowMs);
    else history.unknown(id);
    host.trace.add("return", client, id, outcome, output ? JSON.stringify(output) : "");
    if (outcome === "ok" && isWrite(input, output!)) {
      host.acked.push({ opId: id, key: input.key, value: "value" in input ? input.value : null });
    }
    then(outcome === "ok" ? output! : null);
  };
  // Answers travel back to the client; the deadline counts from the call.
  const settle = (outcome: "ok" | "fail" | "unknown", output?: KvOutput) =>
    sched.after(rng.int(0, 2), () => settleNow(outcome, output));
  sched.after(deadlineMs, () => settleNow("unknown"));
  sched.after(rng.int(0, 2), () => {
    // A member that is down refuses the connection: the call certainly had no effect.
    if (!node.up) settleNow("fail");
    else invoke(node, input, settle);
  });
}

/** Hands `input` to `node` and reports its outcome through `settle`. */
function invoke(
  node: KvNode,
  input: KvInput,
  settle: (outcome: "ok" | "fail" | "unknown", output?: KvOutput) => void,
): void {
  const onError = (err: Error) => {
    const code = (err as { code?: string }).code ?? "";
    settle(DEFINITE_FAILURES.has(code) ? "fail" : "unknown");
  };
  const key = enc.encode(input.key);
  switch (input.op) {
    case "get":
      node.requests.range({ key }, (a: Answer<RangeResponse>) => {
        if (!a.ok) return onError(a.error);
        const kv = a.value.kvs[0];
        settle("ok", { value: kv ? dec.decode(kv.value) : null });
      });
      return;
    case "put":
      node.requests.put({ key, value: enc.encode(input.value) }, (a: Answer<PutResponse>) =>
        a.ok ? settle("ok", {}) : onError(a.error),
      );
      return;
    case "delete":
      node.requests.deleteRange({ key }, (a: Answer<DeleteRangeResponse>) =>
        a.ok ? settle("ok", { deleted: a.value.deleted === 0 ? 0 : 1 }) : onError(a.error),
      );
      return;
    case "cas":
    case "casDelete":
      node.requests.txn(casTxn(input), (a: Answer<TxnResponse>) =>
        a.ok ? settle("ok", { succeeded: a.value.succeeded }) : onError(a.error),
      );
      return;
  }
}

function isWrite(input: KvInput, output: KvOutput): boolean {
  switch (input.op) {
    case "put":
      return true;
    case "delete":
      return (output as { deleted: number }).deleted === 1;
    case "cas":
    case "casDelete":
      return (output as { succeeded: boolean }).succeeded;
    default:
      return false;
  }
}

/** The txn of a compare-and-swap (etcd's idiom: compare value, or create_revision 0 for absence). */
function casTxn(input: Extract<KvInput, { op: "cas" | "casDelete" }>): TxnRequest {
  const key = enc.encode(input.key);
  const compare =
    input.expected === null
      ? { key, target: "CREATE" as const, result: "EQUAL" as const, createRevision: 0 }
      : { key, target: "VALUE" as const, result: "EQUAL" as const, value: enc.encode(input.expected) };
  const success =
    input.op === "cas"
      ? [{ requestPut: { key, value: enc.encode(input.value) } }]
      : [{ requestDeleteRange: { key } }];
  return { compare: [compare], success, failure: [] };
}

/** A client running calls one after the other until stopped. */
export class SimClient {
  private n = 0;
  private running = false;
  /** Last value this client saw per key (null: absent), used as the expectation of its next cas. */
  private readonly lastSeen = new Map<string, string | null>();
  /** Calls completed (any outcome). */
  calls = 0;

  constructor(
    readonly name: string,
    private readonly host: ClientHost,
    private readonly rng: Rng,
    private readonly keys: string[],
    private readonly deadlineMs: [number, number],
    private readonly thinkMaxMs: number,
  ) {}

  start(): void {
    this.running = true;
    this.host.sched.after(this.rng.int(0, 20), () => this.next());
  }

  stop(): void {
    this.running = false;
  }

  private next(): void {
    if (!this.running) return;
    const nodes = this.host.endpoints();
    if (nodes.length === 0) return;
    const node = this.rng.pick(nodes);
    const input = this.nextInput();
    const deadline = this.rng.int(this.deadlineMs[0], this.deadlineMs[1]);
    callOnce(this.host, this.name, node, input, deadline, (output) => {
      this.calls++;
      this.learn(input, output);
      this.host.sched.after(this.rng.int(1, Math.max(1, this.thinkMaxMs)), () => this.next());
    });
  }

  private nextInput(): KvInput {
    const key = this.rng.pick(this.keys);
    const value = `${this.name}-${this.n++}`;
    const r = this.rng.int(0, 99);
    if (r < 35) return { op: "get", key };
    if (r < 65) return { op: "put", key, value };
    if (r < 75) return { op: "delete", key };
    const seen = this.lastSeen.get(key);
    const expected = seen !== undefined && this.rng.chance(0.8) ? seen : null;
    if (r < 93 || expected === null) return { op: "cas", key, expected, value };
    return { op: "casDelete", key, expected };
  }

  private learn(input: KvInput, output: KvOutput | null): void {
    if (output === null) return;
    if (input.op === "get") this.lastSeen.set(input.key, (output as { value: string | null }).value);
    else if (input.op === "put") this.lastSeen.set(input.key, input.value);
    else if (input.op === "cas" && (output as { succeeded: boolean }).succeeded)
      this.lastSeen.set(input.key, input.value);
    else if (
      input.op === "delete" ||
      (input.op === "casDelete" && (output as { succeeded: boolean }).succeeded)
    )
      this.lastSeen.set(input.key, null);
  }
}
