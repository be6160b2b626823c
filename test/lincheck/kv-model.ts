/**
 * Sequential specifications for the linearizability checker (checker.ts).
 *
 * A sequential specification says what one operation does when operations run one at a time:
 * given a state, an input and the output the client observed, is that output possible, and what
 * is the state afterwards. Linearizability (Herlihy & Wing 1990, "Linearizability: a correctness
 * condition for concurrent objects", TOPLAS 12(3)) asks whether the concurrent history can be
 * explained by some total order of its operations, consistent with real time, in which every
 * output is the one this specification gives.
 *
 * `kvModel` is the specification of Cairn's key-value store, one key at a time: the state of a key
 * is its value (a string) or null when absent. Operations on different keys never interact, so
 * the checker splits a history by key and checks each key alone: linearizability is compositional
 * (Herlihy & Wing 1990, Theorem 1), and Horn & Kroening 2015 ("Faster linearizability checking via
 * P-compositionality") use exactly this to make checking fast; Porcupine's partitions do the same.
 * Multi-key transactions therefore cannot be expressed here: record them as single-key operations
 * or not at all.
 */

import type { Outcome } from "./history.ts";

/**
 * An executable sequential specification over states `S`, inputs `I` and outputs `O`.
 * Implementations must be pure: `step` and `stepUnknown` never mutate their arguments.
 */
export interface SequentialModel<S, I, O> {
  /** The state before any operation (the same for every partition). */
  init(): S;
  /**
   * The partition an input belongs to (for a KV store: its key). Operations in different partitions
   * must be independent: each partition is checked on its own from `init()`.
   */
  partition(input: I): string;
  /**
   * Applies an operation whose output was observed. Returns the state after it, or `undefined` when
   * `output` is impossible from `state` (the operation cannot be linearized here).
   * @throws TypeError when `output` does not have the shape `input` calls for (a harness bug)
   */
  step(state: S, input: I, output: O): { state: S } | undefined;
  /**
   * Applies an operation whose outcome is unknown, assuming it took effect: the state after it.
   * (The checker separately considers that it did not take effect at all.) For an operation that
   * may succeed or fail depending on the state (a compare-and-swap), this is the state after it
   * from `state`, whichever way it goes there.
   */
  stepUnknown(state: S, input: I): S;
  /**
   * True when the operation, with this output (`undefined`: unknown outcome), leaves unchanged every
   * state from which that output is possible: a read, a failed compare, deleting an absent key.
   * (Not a put of the current value: from other states it does change the value.) Such operations
   * with an unknown outcome are dropped, and ok ones are linearized as early as possible.
   */
  preservesState(input: I, output: O | undefined): boolean;
  /**
   * Optional: the inputs of one partition's operations (same order) rewritten into equivalent ones
   * that are cheaper to search, e.g. with values no operation can tell apart merged into one. It must
   * not change whether any order of these operations is valid. Reports still show the original inputs.
   */
  canonicalize?(ops: readonly { input: I; outcome: Outcome<O> }[]): I[];
  /** State equality (used for the memoization cache and to prune no-op steps). */
  equal(a: S, b: S): boolean;
  /** A 32-bit hash consistent with `equal`. */
  hash(state: S): number;
  /** Human-readable forms, for failure reports. */
  describeState(state: S): string;
  describeInput(input: I): string;
  describeOutput(input: I, output: O): string;
  /** Why `output` is impossible for `input` from `state` (called only when `step` returned undefined). */
  explainRejection(state: S, input: I, output: O): string;
}

/** The state of one key: its value, or null when the key does not exist. */
export type KvState = string | null;

/**
 * One single-key operation on the store.
 * - `get`: reads the value (null when absent).
 * - `put`: sets the value.
 * - `delete`: removes the key; the output says how many keys were deleted (0 or 1).
 * - `cas`: compare-and-swap; a txn `compare value(key) == expected` (or, when `expected` is null,
 *   `compare create_revision(key) == 0`, i.e. the key is absent), then `put(key, value)`. This is
 *   what HTTP `If-Match` and a txn compare-and-swap map to. The output says whether it succeeded.
 *   A compare failure (HTTP 412) is an `ok` outcome with `succeeded: false`, not a `fail`.
 * - `casDelete`: a txn `compare value(key) == expected` then `delete(key)`.
 */
export type KvInput =
  | { op: "get"; key: string }
  | { op: "put"; key: string; value: string }
  | { op: "delete"; key: string }
  | { op: "cas"; key: string; expected: string | null; value: string }
  | { op: "casDelete"; key: string; expected: string };

/** Output of `get`: the value read, null when the key was absent. */
export interface KvGetOutput {
  value: string | null;
}
/** Output of `delete`: the number of keys deleted. */
export interface KvDeleteOutput {
  deleted: 0 | 1;
}
/** Output of `cas` and `casDelete`: whether the comparison held (and the write happened). */
export interface KvCasOutput {
  succeeded: boolean;
}
/** Output of `put`: nothing to check (write `{}`). */
export type KvPutOutput = Record<string, never>;

/** The output of a KV operation; which shape is expected depends on the input's `op`. */
export type KvOutput = KvGetOutput | KvDeleteOutput | KvCasOutput | KvPutOutput;

function showValue(v: string | null): string {
  return v === null ? "null" : JSON.stringify(v);
}

/** FNV-1a over UTF-16 code units; null hashes to a fixed constant. */
function hashString(s: string | null): number {
  if (s === null) return 0x6e756c6c;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function outputField<K extends "value" | "deleted" | "succeeded">(
  input: KvInput,
  output: KvOutput,
  field: K,
) {
  if (output === null || typeof output !== "object" || !(field in output)) {
    throw new TypeError(`${input.op} on ${JSON.stringify(input.key)}: output must have "${field}"`);
  }
  return (output as Record<K, unknown>)[field];
}

function getValue(input: KvInput, output: KvOutput): string | null {
  const v = outputField(input, output, "value");
  if (v !== null && typeof v !== "string") throw new TypeError(`get output "value" must be a string or null`);
  return v;
}

function getDeleted(input: KvInput, output: KvOutput): 0 | 1 {
  const d = outputField(input, output, "deleted");
  if (d !== 0 && d !== 1) throw new TypeError(`delete output "deleted" must be 0 or 1 (single key)`);
  return d;
}

function getSucceeded(input: KvInput, output: KvOutput): boolean {
  const s = outputField(input, output, "succeeded");
  if (typeof s !== "boolean") throw new TypeError(`${input.op} output "succeeded" must be a boolean`);
  return s;
}

/** The state after `input` from `state`, and the output the specification gives. */
function apply(state: KvState, input: KvInput): { state: KvState; output: KvOutput } {
  switch (input.op) {
    case "get":
      return { state, output: { value: state } };
    case "put":
      return { state: input.value, output: {} };
    case "delete":
      return { state: null, output: { deleted: state === null ? 0 : 1 } };
    case "cas":
      return state === input.expected
        ? { state: input.value, output: { succeeded: true } }
        : { state, output: { succeeded: false } };
    case "casDelete":
      return state === input.expected
        ? { state: null, output: { succeeded: true } }
        : { state, output: { succeeded: false } };
  }
}

/** True when the observed output equals the specified one (throws on a malformed output). */
function outputMatches(input: KvInput, observed: KvOutput, specified: KvOutput): boolean {
  switch (input.op) {
    case "get":
      return getValue(input, observed) === (specified as KvGetOutput).value;
    case "put":
      return true;
    case "delete":
      return getDeleted(input, observed) === (specified as KvDeleteOutput).deleted;
    case "cas":
    case "casDelete":
      return getSucceeded(input, observed) === (specified as KvCasOutput).succeeded;
  }
}

/**
 * The sequential specification of Cairn's key-value store, partitioned by key. State: the key's
 * value or null. See `KvInput` for the operations.
 */
export const kvModel: SequentialModel<KvState, KvInput, KvOutput> = {
  init: () => null,
  partition: (input) => input.key,
  step(state, input, output) {
    const r = apply(state, input);
    return outputMatches(input, output, r.output) ? { state: r.state } : undefined;
  },
  stepUnknown: (state, input) => apply(state, input).state,
  preservesState(input, output) {
    if (input.op === "get") return true;
    if (output === undefined) return false;
    switch (input.op) {
      case "put":
        return false;
      case "delete":
        return getDeleted(input, output) === 0;
      case "cas":
        return !getSucceeded(input, output) || input.expected === input.value;
      case "casDelete":
        return !getSucceeded(input, output);
    }
  },
  /**
   * Merges the values nobody observes: a value that no get returned and no compare expects behaves
   * exactly like any other such value (every get and compare fails on it, a delete deletes it), so
   * the writes of such values all write one placeholder. Unknown writes of unobserved values then
   * become interchangeable, and their states share memoization entries.
   */
  canonicalize(ops) {
    const observed = new Set<string>();
    for (const { input, outcome } of ops) {
      if (outcome.type === "fail") continue;
      if ((input.op === "cas" || input.op === "casDelete") && input.expected !== null)
        observed.add(input.expected);
      if (input.op === "get" && outcome.type === "ok") {
        const v = getValue(input, outcome.output);
        if (v !== null) observed.add(v);
      }
    }
    let placeholder = "<unobserved>";
    while (observed.has(placeholder)) placeholder += "'";
    return ops.map(({ input }) =>
      (input.op === "put" || input.op === "cas") && !observed.has(input.value)
        ? { ...input, value: placeholder }
        : input,
    );
  },
  equal: (a, b) => a === b,
  hash: hashString,
  describeState: showValue,
  describeInput(input) {
    const k = JSON.stringify(input.key);
    switch (input.op) {
      case "get":
        return `get(${k})`;
      case "put":
        return `put(${k}, ${showValue(input.value)})`;
      case "delete":
        return `delete(${k})`;
      case "cas":
        return `cas(${k}, expected ${showValue(input.expected)} -> ${showValue(input.value)})`;
      case "casDelete":
        return `casDelete(${k}, expected ${showValue(input.expected)})`;
    }
  },
  describeOutput(input, output) {
    switch (input.op) {
      case "get":
        return showValue(getValue(input, output));
      case "put":
        return "ok";
      case "delete":
        return `deleted=${getDeleted(input, output)}`;
      case "cas":
      case "casDelete":
        return `succeeded=${getSucceeded(input, output)}`;
    }
  },
  explainRejection(state, input, output) {
    const s = showValue(state);
    switch (input.op) {
      case "get":
        return `it read ${showValue(getValue(input, output))} but the value was ${s}`;
      case "put":
        return "a put always succeeds";
      case "delete":
        return `it reported deleted=${getDeleted(input, output)} but the value was ${s}`;
      case "cas":
      case "casDelete":
        return getSucceeded(input, output)
          ? `it succeeded but the value was ${s}, not the expected ${showValue(input.expected)}`
          : `it failed but the value was the expected ${s}`;
    }
  },
};
