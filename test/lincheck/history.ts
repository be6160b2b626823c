/**
 * Histories for the linearizability checker: what clients asked, when, and what they were told.
 *
 * Times are plain numbers in one monotonic unit chosen by whoever records the history (real-process
 * tests use `performance.now()` milliseconds, the simulation uses simulated milliseconds). Only
 * their order matters. Equal times count as concurrent: an operation that returns at t and one
 * called at t may be linearized in either order (with a coarse clock two events in the same tick
 * are not known to be ordered), so a violation hidden inside one clock tick is not reported.
 */
import type { KvInput, KvOutput } from "./kv-model.ts";

/** Who issued an operation (only used in reports; it does not constrain the order). */
export type ClientId = string | number;

/**
 * How an operation ended.
 * - `ok`: it took effect, once, somewhere between its call and its return, and `output` is what the
 *   client received. A compare failure (HTTP 412) is `ok` with `{ succeeded: false }`.
 * - `fail`: it definitely did not take effect (e.g. rejected by validation before being proposed,
 *   or an error that is known to have no effect). The checker drops it.
 * - `unknown`: timed out, connection lost, node crashed: it may or may not have taken effect, at any
 *   time after its call (even after the same client's later operations). Its return time is +infinity
 *   (as in Porcupine and Jepsen's `:info`).
 */
export type Outcome<O> = { type: "ok"; output: O } | { type: "fail" } | { type: "unknown" };

/**
 * One operation of a history.
 * `returnTime` is `Infinity` for an `unknown` outcome; otherwise `callTime <= returnTime`.
 */
export interface Operation<I = KvInput, O = KvOutput> {
  /** Index of the operation in its history (the recorder's id); failure reports refer to it. */
  readonly id: number;
  readonly client: ClientId;
  /** When the client sent it. */
  readonly callTime: number;
  /**
   * When the client received the answer. `Infinity` for an unknown outcome (the recorder writes that;
   * the checker treats an unknown operation's return as +infinity whatever is stored here).
   */
  readonly returnTime: number;
  readonly input: I;
  readonly outcome: Outcome<O>;
}

/** A concurrent history: operations in any order (the checker sorts them by time). */
export type History<I = KvInput, O = KvOutput> = readonly Operation<I, O>[];

interface Pending<I> {
  client: ClientId;
  callTime: number;
  input: I;
}

/**
 * Records a history as it happens:
 * ```ts
 * const h = new HistoryRecorder();
 * const id = h.call(client, { op: "put", key: "k", value: "v" }, nowMs);
 * h.ok(id, {}, laterMs);   // or h.fail(id, laterMs) / h.unknown(id)
 * checkLinearizable(h.history());
 * ```
 * Operations never resolved are reported as `unknown` by `history()`.
 */
export class HistoryRecorder<I = KvInput, O = KvOutput> {
  private readonly ops: (Operation<I, O> | Pending<I>)[] = [];
  private readonly resolved: boolean[] = [];

  /**
   * Records that `client` sent `input` at `nowMs`. Returns the operation's id.
   * @throws RangeError when `nowMs` is not a finite number
   */
  call(client: ClientId, input: I, nowMs: number): number {
    if (!Number.isFinite(nowMs)) throw new RangeError(`call time must be finite, got ${nowMs}`);
    this.ops.push({ client, callTime: nowMs, input });
    this.resolved.push(false);
    return this.ops.length - 1;
  }

  /**
   * Records that operation `id` took effect and returned `output` at `nowMs`.
   * @throws RangeError when `id` is unknown, already resolved, or `nowMs` is before its call time
   */
  ok(id: number, output: O, nowMs: number): void {
    this.resolve(id, { type: "ok", output }, nowMs);
  }

  /**
   * Records that operation `id` returned at `nowMs` with an error that guarantees it had no effect.
   * @throws RangeError as `ok`
   */
  fail(id: number, nowMs: number): void {
    this.resolve(id, { type: "fail" }, nowMs);
  }

  /**
   * Records that the outcome of operation `id` will never be known (its return time becomes +infinity).
   * @throws RangeError when `id` is unknown or already resolved
   */
  unknown(id: number): void {
    this.resolve(id, { type: "unknown" }, Number.POSITIVE_INFINITY);
  }

  /** Number of operations called so far. */
  get size(): number {
    return this.ops.length;
  }

  /** A snapshot of the history; operations still pending are reported as `unknown`. */
  history(): Operation<I, O>[] {
    return this.ops.map((op, id) =>
      this.resolved[id]
        ? (op as Operation<I, O>)
        : {
            id,
            client: op.client,
            callTime: op.callTime,
            returnTime: Number.POSITIVE_INFINITY,
            input: op.input,
            outcome: { type: "unknown" },
          },
    );
  }

  private resolve(id: number, outcome: Outcome<O>, nowMs: number): void {
    const op = this.ops[id];
    if (op === undefined || !Number.isInteger(id)) throw new RangeError(`no operation with id ${id}`);
    if (this.resolved[id]) throw new RangeError(`operation ${id} is already resolved`);
    if (Number.isNaN(nowMs) || nowMs < op.callTime) {
      throw new RangeError(`operation ${id}: return time ${nowMs} is before its call time ${op.callTime}`);
    }
    if (outcome.type !== "unknown" && !Number.isFinite(nowMs)) {
      throw new RangeError(`operation ${id}: return time must be finite, got ${nowMs}`);
    }
    this.ops[id] = {
      id,
      client: op.client,
      callTime: op.callTime,
      returnTime: nowMs,
      input: op.input,
      outcome,
    };
    this.resolved[id] = true;
  }
}
