/**
 * A linearizability checker for histories of single-key operations.
 *
 * A history is linearizable (Herlihy & Wing 1990, "Linearizability: a correctness condition for
 * concurrent objects") when its operations can be put in one total order such that (1) an operation
 * that returned before another was called comes first (real-time order), and (2) replaying them in
 * that order against the sequential specification gives every output the clients observed.
 *
 * The search is Wing & Gong's ("Testing and verifying concurrent objects", JPDC 1993): walk the
 * call/return events in time order, try to linearize an operation whose call has been seen, recurse,
 * and backtrack when an operation's return is reached before it could be linearized. Lowe ("Testing
 * for linearizability", CCPE 2017) adds memoization: the rest of the search depends only on which
 * operations are linearized and the model state, so each (set, state) pair is explored once. As in
 * Porcupine (Athalye), the history is first split into independent partitions (here: by key) and
 * each is checked alone, which is sound and complete because linearizability is compositional
 * (Herlihy & Wing 1990, Theorem 1; Horn & Kroening 2015, "Faster linearizability checking via
 * P-compositionality").
 *
 * Outcomes: `fail` operations had no effect and are dropped. `unknown` operations return at
 * +infinity, so they may be linearized anywhere after their call, or never: the search succeeds as
 * soon as every `ok` operation is linearized, whatever unknown operations remain.
 *
 * Beyond the published algorithm, four reductions keep the search small; each keeps it sound and
 * complete (the argument is next to the code): operations that change no state (reads, failed
 * compares) are linearized as soon as they can be, with no alternative tried; a configuration is
 * skipped when one with the same ok operations and state but a subset of its unknown operations
 * was seen; identical unknown operations are interchangeable; and the model may merge values no
 * operation can tell apart (`SequentialModel.canonicalize`).
 */
import type { History, Operation } from "./history.ts";
import { type KvInput, type KvOutput, kvModel, type SequentialModel } from "./kv-model.ts";

/** Limits on the search; when one is reached the result is `{ ok: "unknown" }`, never a hang. */
export interface CheckOptions {
  /**
   * Maximum search steps per partition (key); one step looks at one candidate of the search loop
   * (roughly 0.1 to 0.4 µs). Default 10,000,000. Linearizable histories of a few hundred operations
   * per key with up to 12 concurrent clients take thousands of steps; proving that such a history is
   * NOT linearizable takes up to a few hundred thousand, and up to tens of millions when a third of
   * its operations have unknown outcomes.
   */
  maxSteps?: number;
  /** Wall-clock budget for the whole check, in ms (measured with `performance.now()`). Default: none. */
  timeoutMs?: number;
}

/** The history is linearizable: every partition has a linearization. */
export interface CheckOk {
  ok: true;
  /** Number of partitions (keys) checked. */
  partitions: number;
  /** Total search steps over all partitions. */
  steps: number;
}

/** The history is not linearizable. */
export interface CheckViolation {
  ok: false;
  /** The first partition (key, in order of first appearance) with no linearization. */
  key: string;
  /** Every partition found not linearizable, `key` first. */
  failedKeys: string[];
  /**
   * A multi-line explanation: the longest linearizable prefix found for `key` (operations in order,
   * with their call/return times and the state after each), then the operation that could not be
   * placed after it and why every candidate failed.
   */
  reason: string;
  /** Ids (`Operation.id`) of the longest linearizable prefix found for `key`, in linearization order. */
  partialOrder: number[];
  /** Id of the operation that could not be placed after `partialOrder`. */
  unplacedOp: number;
  steps: number;
}

/** A budget ran out before a partition was decided (and no partition was found not linearizable). */
export interface CheckUnknown {
  ok: "unknown";
  /** The first undecided partition. */
  key: string;
  reason: string;
  steps: number;
}

export type CheckResult = CheckOk | CheckViolation | CheckUnknown;

const DEFAULT_MAX_STEPS = 10_000_000;

/**
 * Checks a key-value history against `kvModel`: `checkOperations(kvModel, history, opts)`.
 * @throws RangeError on a malformed history (see `checkOperations`)
 * @throws TypeError when an output does not have the shape its input calls for
 */
export function checkLinearizable(history: History<KvInput, KvOutput>, opts?: CheckOptions): CheckResult {
  return checkOperations(kvModel, history, opts);
}

/**
 * Checks whether `history` is linearizable with respect to `model` (see the module comment for the
 * rule and the algorithm). Partitions are checked in order of first appearance; all of them are
 * checked, so `failedKeys` lists every bad key.
 * @throws RangeError when a call time is not finite, an `ok`/`fail` return time is not finite or is
 *   before its call time, or two operations share an id
 * @throws TypeError (from the model) when an output does not have the shape its input calls for
 */
export function checkOperations<S, I, O>(
  model: SequentialModel<S, I, O>,
  history: History<I, O>,
  opts: CheckOptions = {},
): CheckResult {
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  if (!(maxSteps > 0)) throw new RangeError(`maxSteps must be positive, got ${maxSteps}`);
  const deadline =
    opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + opts.timeoutMs;

  const partitions = new Map<string, Operation<I, O>[]>();
  const ids = new Set<number>();
  for (const op of history) {
    validate(op);
    if (ids.has(op.id)) throw new RangeError(`two operations have id ${op.id}`);
    ids.add(op.id);
    if (op.outcome.type === "fail") continue; // definitely had no effect
    if (op.outcome.type === "unknown" && model.preservesState(op.input, undefined)) continue; // constrains nothing
    const key = model.partition(op.input);
    let ops = partitions.get(key);
    if (ops === undefined) partitions.set(key, (ops = []));
    ops.push(op);
  }

  let steps = 0;
  const failed: { key: string; result: PartitionViolation }[] = [];
  let undecided: { key: string; reason: string } | undefined;
  for (const [key, ops] of partitions) {
    const r = checkPartition(model, ops, maxSteps, deadline);
    steps += r.steps;
    if (r.kind === "violation") failed.push({ key, result: r });
    else if (r.kind === "unknown" && undecided === undefined) undecided = { key, reason: r.reason };
  }

  const first = failed[0];
  if (first !== undefined) {
    const others =
      failed.length > 1
        ? `\n(also not linearizable: ${failed
            .slice(1)
            .map((f) => JSON.stringify(f.key))
            .join(", ")})`
        : "";
    const undecidedNote = undecided
      ? `\n(undecided within the budget: ${JSON.stringify(undecided.key)})`
      : "";
    return {
      ok: false,
      key: first.key,
      failedKeys: failed.map((f) => f.key),
      reason: `key ${JSON.stringify(first.key)}: ${first.result.reason}${others}${undecidedNote}`,
      partialOrder: first.result.partialOrder,
      unplacedOp: first.result.unplacedOp,
      steps,
    };
  }
  if (undecided !== undefined) {
    return {
      ok: "unknown",
      key: undecided.key,
      reason: `key ${JSON.stringify(undecided.key)}: ${undecided.reason}`,
      steps,
    };
  }
  return { ok: true, partitions: partitions.size, steps };
}

/**
 * One line describing an operation, e.g. `op#3 client 2 get("k") -> "v" [call 10, return 12]`,
 * using the model's descriptions (default: the KV model). An unknown outcome prints `return +inf`.
 * @throws TypeError (from the model) when an ok output does not have the shape its input calls for
 */
export function describeOperation(op: Operation<KvInput, KvOutput>): string;
export function describeOperation<S, I, O>(op: Operation<I, O>, model: SequentialModel<S, I, O>): string;
export function describeOperation<S, I, O>(op: Operation<I, O>, model?: SequentialModel<S, I, O>): string {
  const m = model ?? (kvModel as unknown as SequentialModel<S, I, O>);
  const result =
    op.outcome.type === "ok"
      ? m.describeOutput(op.input, op.outcome.output)
      : op.outcome.type === "fail"
        ? "FAIL (no effect)"
        : "UNKNOWN";
  const ret = op.outcome.type === "unknown" ? "+inf" : `${op.returnTime}`;
  return `op#${op.id} client ${op.client} ${m.describeInput(op.input)} -> ${result} [call ${op.callTime}, return ${ret}]`;
}

function validate<I, O>(op: Operation<I, O>): void {
  if (!Number.isFinite(op.callTime))
    throw new RangeError(`op#${op.id}: call time must be finite, got ${op.callTime}`);
  if (op.outcome.type === "unknown") return; // its return time is taken as +infinity whatever it says
  if (!Number.isFinite(op.returnTime)) {
    throw new RangeError(
      `op#${op.id}: an ${op.outcome.type} operation needs a finite return time, got ${op.returnTime}`,
    );
  }
  if (op.returnTime < op.callTime) {
    throw new RangeError(`op#${op.id}: return time ${op.returnTime} is before call time ${op.callTime}`);
  }
}

type PartitionResult =
  | { kind: "ok"; steps: number }
  | PartitionViolation
  | { kind: "unknown"; steps: number; reason: string };

interface PartitionViolation {
  kind: "violation";
  steps: number;
  reason: string;
  partialOrder: number[];
  unplacedOp: number;
}

/** A 32-bit mix of i (murmur3's finalizer): the Zobrist key of operation i in the linearized-set hash. */
function zobrist(i: number): number {
  let h = (i + 1) * 0x9e3779b1;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * Lowe's memoization cache, extended for unknown operations. A search configuration is (the ok
 * operations linearized K, the unknown operations linearized U, the model state). Lowe: the rest of
 * the search depends only on the configuration, so one already explored is not explored again.
 * Extension: (K, U2, s) is no better than (K, U1, s) when U1 ⊆ U2, because the unknown operations of
 * U2 \ U1 return at +infinity: leaving them pending constrains nothing, so every continuation of
 * (K, U2, s) is also one of (K, U1, s). A configuration is therefore skipped when one with the same K
 * and state and a subset of its U was seen. The caller maintains the hash of K incrementally.
 */
class Visited<S> {
  private readonly buckets = new Map<number, { known: Uint32Array; state: S; unknowns: Uint32Array[] }[]>();

  constructor(private readonly model: SequentialModel<S, unknown, unknown>) {}

  /** Records (known, unknowns, state); false when it is subsumed by a recorded one. Copies the bitsets. */
  add(known: Uint32Array, knownHash: number, unknowns: Uint32Array, state: S, stateHash: number): boolean {
    const h = (knownHash + Math.imul(stateHash, 0x27d4eb2d)) | 0;
    let bucket = this.buckets.get(h);
    if (bucket === undefined) this.buckets.set(h, (bucket = []));
    for (const e of bucket) {
      if (!this.model.equal(e.state, state) || !sameBits(e.known, known)) continue;
      if (e.unknowns.some((u) => isSubset(u, unknowns))) return false;
      e.unknowns = e.unknowns.filter((u) => !isSubset(unknowns, u)); // now subsumed by `unknowns`
      e.unknowns.push(unknowns.slice());
      return true;
    }
    bucket.push({ known: known.slice(), state, unknowns: [unknowns.slice()] });
    return true;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isSubset(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i]! & ~b[i]!) !== 0) return false;
  return true;
}

interface Event {
  op: number;
  isCall: boolean;
  time: number;
}

/**
 * Call/return events in search order: by time, calls before returns at equal times (concurrent).
 * An unknown operation's return is at +infinity.
 */
function sortedEvents<I, O>(ops: Operation<I, O>[]): Event[] {
  const events: Event[] = [];
  ops.forEach((op, i) => {
    events.push({ op: i, isCall: true, time: op.callTime });
    const ret = op.outcome.type === "unknown" ? Number.POSITIVE_INFINITY : op.returnTime;
    events.push({ op: i, isCall: false, time: ret });
  });
  events.sort((a, b) => {
    if (a.time < b.time) return -1;
    if (a.time > b.time) return 1;
    if (a.isCall !== b.isCall) return a.isCall ? -1 : 1;
    return a.op - b.op;
  });
  return events;
}

/** A doubly linked circular list over nodes 1..size-1 (node 0 is the sentinel), with O(1) unlink/relink. */
class Links {
  readonly next: Int32Array;
  readonly prev: Int32Array;

  constructor(nodes: number) {
    this.next = new Int32Array(nodes + 1);
    this.prev = new Int32Array(nodes + 1);
    for (let k = 0; k <= nodes; k++) {
      this.next[k] = k === nodes ? 0 : k + 1;
      this.prev[k] = k === 0 ? nodes : k - 1;
    }
  }

  /** Removes node k; it keeps its own links so `relink` can put it back (undo in reverse order). */
  unlink(k: number): void {
    this.next[this.prev[k]!] = this.next[k]!;
    this.prev[this.next[k]!] = this.prev[k]!;
  }

  relink(k: number): void {
    this.next[this.prev[k]!] = k;
    this.prev[this.next[k]!] = k;
  }
}

/**
 * Wing & Gong's search with Lowe's memoization over one partition, following the structure of
 * Porcupine's single-partition check: the call/return events of the ok operations in a doubly
 * linked list; linearizing an operation unlinks its call and return ("lift"), backtracking relinks
 * them in reverse order ("unlift"); a stack holds what each linearized operation undoes.
 *
 * The candidates at a configuration are the operations called before the first return still in
 * the list (that return's operation must come before anything called after it). Unknown
 * operations never return, so they live in a second list (their calls, by time) and are tried
 * after the ok candidates: configurations with fewer unknown operations linearized are then seen
 * first, which lets `Visited` skip most of the others. The search succeeds as soon as every ok
 * operation is linearized; unknown operations left over never took effect.
 */
function checkPartition<S, I, O>(
  model: SequentialModel<S, I, O>,
  ops: Operation<I, O>[],
  maxSteps: number,
  deadline: number,
): PartitionResult {
  const n = ops.length;
  const events = sortedEvents(ops);
  const unknown = ops.map((op) => op.outcome.type === "unknown");
  // The search steps the model with canonical inputs; reports show the original ones.
  const inputs = model.canonicalize ? model.canonicalize(ops) : ops.map((op) => op.input);
  if (inputs.length !== n)
    throw new Error(`canonicalize returned ${inputs.length} inputs for ${n} operations`);
  // Ok operations that change no state (reads, failed compares) are forced: see `linearize`.
  const forcedOk = ops.map(
    (op, i) => op.outcome.type === "ok" && model.preservesState(inputs[i]!, op.outcome.output),
  );
  // Dense indexes: ok operations 0..knownTotal-1, unknown operations 0..unknownTotal-1.
  const index = new Int32Array(n);
  let knownTotal = 0;
  let unknownTotal = 0;
  for (let i = 0; i < n; i++) index[i] = unknown[i] ? unknownTotal++ : knownTotal++;

  // Main list: node k (1..2*knownTotal) is the k-th event of an ok operation.
  const main = new Links(2 * knownTotal);
  const mainOp = new Int32Array(2 * knownTotal + 1);
  const mainTime = new Float64Array(2 * knownTotal + 1);
  const isCall = new Uint8Array(2 * knownTotal + 1);
  const returnNode = new Int32Array(n);
  // Unknown list: node k (1..unknownTotal) is the k-th call of an unknown operation.
  const side = new Links(unknownTotal);
  const sideOp = new Int32Array(unknownTotal + 1);
  const sideTime = new Float64Array(unknownTotal + 1);
  // Unknown operations with identical inputs are interchangeable: one is only tried when no identical
  // one called later is still pending and callable (see `linearize`).
  const sameLater = new Int32Array(unknownTotal + 1); // side node → next side node with the same input
  const sideLinked = new Uint8Array(unknownTotal + 1).fill(1);
  const lastWithInput = new Map<string, number>();
  let m = 0;
  let u = 0;
  for (const e of events) {
    if (!unknown[e.op]) {
      m++;
      mainOp[m] = e.op;
      mainTime[m] = e.time;
      isCall[m] = e.isCall ? 1 : 0;
      if (!e.isCall) returnNode[e.op] = m;
    } else if (e.isCall) {
      u++;
      sideOp[u] = e.op;
      sideTime[u] = e.time;
      const same = JSON.stringify(inputs[e.op]);
      const before = lastWithInput.get(same);
      if (before !== undefined) sameLater[before] = u;
      lastWithInput.set(same, u);
    }
  }

  const zob = Int32Array.from({ length: knownTotal }, (_, i) => zobrist(i));
  const knownBits = new Uint32Array(Math.ceil(knownTotal / 32));
  const unknownBits = new Uint32Array(Math.ceil(unknownTotal / 32));
  let knownHash = 0;
  /** Adds or removes op from the linearized sets. */
  const flip = (op: number) => {
    const i = index[op]!;
    if (unknown[op]) unknownBits[i >>> 5]! ^= 1 << (i & 31);
    else {
      knownBits[i >>> 5]! ^= 1 << (i & 31);
      knownHash ^= zob[i]!;
    }
  };

  const visited = new Visited<S>(model as SequentialModel<S, unknown, unknown>);
  /**
   * One linearized operation: its node (main or side list), the state before it, for a side node the
   * blocking return, and whether it was forced (then, once undone, no other candidate needs trying).
   */
  const stack: { node: number; side: boolean; state: S; frontier: number; forced: boolean }[] = [];
  let state = model.init();
  let knownLeft = knownTotal;
  let best: number[] = []; // ops of the longest prefix seen (by number of ok operations)
  let bestLen = 0;
  let bestStale = false; // the current stack holds more ok operations than `best`

  /** The state after `op` from `s`, or undefined when it cannot (or need not) be linearized there. */
  const tryStep = (s: S, op: number): { state: S } | undefined => {
    const o = ops[op]!;
    const input = inputs[op]!;
    if (o.outcome.type === "ok") return model.step(s, input, o.outcome.output);
    const after = model.stepUnknown(s, input);
    // An unknown op that would not change the state gains nothing by being linearized here.
    if (model.equal(after, s)) return undefined;
    // Right after another unknown op u (no ok op between), an unknown op whose result would be the
    // same without u makes u pointless: that configuration is no better than linearizing this op
    // instead of u, which is tried from the configuration before u. Without this, every subset of
    // the pending unknown ops could be tried in turn.
    const top = stack[stack.length - 1];
    if (top?.side && model.equal(model.stepUnknown(top.state, input), after)) return undefined;
    return { state: after };
  };
  /**
   * Linearizes op (from `node` of the main or side list) if possible and not yet explored: "done".
   * Otherwise "skip" (try the next candidate), or "dead" when the configuration cannot succeed.
   *
   * An ok candidate that leaves every state unchanged (`preservesState`: a read, a failed compare,
   * deleting an absent key) is forced: if any linearization from here exists, one starts with it
   * (moving it to the front breaks no real-time order, since it is a candidate, and changes no state
   * or output). So forced candidates are tried first, in a pass of their own; once one is
   * linearized no alternative is tried, and if its configuration was already explored, this one is
   * dead.
   *
   * An unknown candidate is skipped while an identical unknown operation called later is pending and
   * callable: using the later one instead keeps the earlier one, which can go anywhere it can.
   */
  const linearize = (
    op: number,
    node: number,
    onSide: boolean,
    frontier: number,
  ): "done" | "skip" | "dead" => {
    if (onSide) {
      for (let v = sameLater[node]!; v !== 0 && sideTime[v]! <= mainTime[frontier]!; v = sameLater[v]!) {
        if (sideLinked[v]) return "skip";
      }
    }
    const r = tryStep(state, op);
    if (r === undefined) return "skip";
    const forced = forcedOk[op]!;
    if (forced && !model.equal(r.state, state)) {
      throw new Error(`model bug: ${model.describeInput(ops[op]!.input)} preserves state but changed it`);
    }
    flip(op);
    if (!visited.add(knownBits, knownHash, unknownBits, r.state, model.hash(r.state))) {
      flip(op);
      return forced ? "dead" : "skip";
    }
    stack.push({ node, side: onSide, state, frontier, forced });
    state = r.state;
    if (onSide) {
      side.unlink(node);
      sideLinked[node] = 0;
    } else {
      main.unlink(node);
      main.unlink(returnNode[op]!);
      knownLeft--;
      // "Longest" counts ok operations: unknown ones lengthen a prefix without explaining anything.
      if (knownTotal - knownLeft > bestLen) {
        bestLen = knownTotal - knownLeft;
        bestStale = true;
      }
    }
    return "done";
  };

  let steps = 0;
  let node = main.next[0]!; // scanning the main list (first for forced candidates only)...
  let forcedPass = true;
  let sideNode = 0; // ...or, when nonzero, the side list, for candidates called before `frontier`
  let frontier = 0;
  while (knownLeft > 0) {
    steps++;
    if (steps > maxSteps) {
      return {
        kind: "unknown",
        steps,
        reason: `search budget of ${maxSteps} steps exhausted (${n} operations)`,
      };
    }
    if ((steps & 1023) === 0 && performance.now() > deadline) {
      return {
        kind: "unknown",
        steps,
        reason: `time budget exhausted after ${steps} steps (${n} operations)`,
      };
    }
    if (sideNode === 0) {
      if (isCall[node]) {
        const op = mainOp[node]!;
        // A forced candidate is tried in the first pass, the others in the second.
        const done = forcedOk[op] === forcedPass ? linearize(op, node, false, 0) : "skip";
        if (done === "done") {
          node = main.next[0]!;
          forcedPass = true;
        } else if (done === "skip") node = main.next[node]!;
        else sideNode = -1; // dead: backtrack
      } else if (forcedPass) {
        forcedPass = false;
        node = main.next[0]!;
      } else {
        // The first pending return: the ok candidates are exhausted; try the unknown ones.
        frontier = node;
        sideNode = side.next[0]!;
        if (sideNode === 0) sideNode = -1; // empty side list: backtrack on the next step
      }
      continue;
    }
    if (sideNode > 0 && sideTime[sideNode]! <= mainTime[frontier]!) {
      if (linearize(sideOp[sideNode]!, sideNode, true, frontier) === "done") {
        sideNode = 0;
        node = main.next[0]!;
        forcedPass = true;
      } else {
        sideNode = side.next[sideNode]! || -1;
      }
      continue;
    }
    // No candidate left here: backtrack.
    if (bestStale) {
      best = stack.map((e) => (e.side ? sideOp[e.node]! : mainOp[e.node]!));
      while (best.length > 0 && unknown[best[best.length - 1]!]) best.pop();
      bestStale = false;
    }
    const top = stack.pop();
    if (top === undefined) return violation(model, ops, events, best, steps);
    state = top.state;
    if (top.side) {
      flip(sideOp[top.node]!);
      side.relink(top.node);
      sideLinked[top.node] = 1;
      frontier = top.frontier;
      sideNode = side.next[top.node]! || -1;
    } else {
      const op = mainOp[top.node]!;
      flip(op);
      main.relink(returnNode[op]!);
      main.relink(top.node);
      knownLeft++;
      sideNode = 0;
      forcedPass = false;
      node = main.next[top.node]!;
    }
    if (top.forced) sideNode = -1; // it was the only option: backtrack further
  }
  return { kind: "ok", steps };
}

/** Builds the report for a partition with no linearization, from the longest prefix found. */
function violation<S, I, O>(
  model: SequentialModel<S, I, O>,
  ops: Operation<I, O>[],
  events: Event[],
  prefix: number[],
  steps: number,
): PartitionViolation {
  const lines: string[] = [];
  const known = ops.filter((o) => o.outcome.type === "ok").length;
  lines.push(
    `not linearizable: no total order of its ${ops.length} operations (${known} ok, ${ops.length - known} unknown) ` +
      "respects real time and the sequential specification (Herlihy & Wing 1990).",
  );
  let state = model.init();
  lines.push(`Initial state: ${model.describeState(state)}.`);
  const prefixOk = prefix.filter((i) => ops[i]!.outcome.type === "ok").length;
  lines.push(`Longest linearizable prefix found (${prefixOk} of the ${known} ok operations):`);
  prefix.forEach((i, n) => {
    const o = ops[i]!;
    state =
      o.outcome.type === "ok"
        ? model.step(state, o.input, o.outcome.output)!.state
        : model.stepUnknown(state, o.input);
    const note = o.outcome.type === "unknown" ? " (unknown outcome: assumed to take effect here)" : "";
    lines.push(`  ${n + 1}. ${describeOperation(o, model)}${note} => ${model.describeState(state)}`);
  });

  // After the prefix, the first return event among the remaining operations is the one that
  // blocked: everything called before it was a candidate, and none led to a linearization.
  const placed = new Set(prefix);
  const candidates: number[] = [];
  let unplaced = -1;
  for (const e of events) {
    if (placed.has(e.op)) continue;
    if (e.isCall) candidates.push(e.op);
    else {
      unplaced = e.op;
      break;
    }
  }
  const u = ops[unplaced]!;
  lines.push(
    `Cannot place ${describeOperation(u, model)}: it returned at ${u.returnTime}, so it must take effect ` +
      `before any operation called after that, but after the prefix (state ${model.describeState(state)}) ` +
      "no candidate leads to a linearization:",
  );
  for (const c of candidates) {
    const o = ops[c]!;
    let why: string;
    if (o.outcome.type === "ok") {
      const r = model.step(state, o.input, o.outcome.output);
      why =
        r === undefined
          ? `impossible here: ${model.explainRejection(state, o.input, o.outcome.output)}`
          : `possible here (=> ${model.describeState(r.state)}), but every continuation from there fails`;
    } else {
      const after = model.stepUnknown(state, o.input);
      why = model.equal(after, state)
        ? "unknown outcome; would have no effect here"
        : `unknown outcome; may take effect here (=> ${model.describeState(after)}), but that does not help either`;
    }
    lines.push(`  - ${describeOperation(o, model)}: ${why}`);
  }
  return {
    kind: "violation",
    steps,
    reason: lines.join("\n"),
    partialOrder: prefix.map((i) => ops[i]!.id),
    unplacedOp: u.id,
  };
}
