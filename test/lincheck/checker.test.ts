/**
 * The linearizability checker (Herlihy & Wing 1990; Wing & Gong 1993 with Lowe's 2017 memoization,
 * partitioned by key as in Porcupine): hand-written histories with a known answer, randomized
 * histories generated from a real sequential execution (linearizable by construction) and then
 * mutated (not linearizable by construction), and a size check.
 */
import { describe, expect, it } from "vitest";
import { forEachSeed, Rng } from "../sim/rng.ts";
import { type CheckResult, checkLinearizable, describeOperation } from "./checker.ts";
import { type ClientId, HistoryRecorder, type Operation } from "./history.ts";
import type { KvInput, KvOutput } from "./kv-model.ts";

// ---------------------------------------------------------------------------------------------
// A small language for hand-written histories: each helper records one operation with its times.

class H {
  readonly rec = new HistoryRecorder();

  put(c: ClientId, call: number, ret: number, key: string, value: string): number {
    const id = this.rec.call(c, { op: "put", key, value }, call);
    this.rec.ok(id, {}, ret);
    return id;
  }
  get(c: ClientId, call: number, ret: number, key: string, value: string | null): number {
    const id = this.rec.call(c, { op: "get", key }, call);
    this.rec.ok(id, { value }, ret);
    return id;
  }
  del(c: ClientId, call: number, ret: number, key: string, deleted: 0 | 1): number {
    const id = this.rec.call(c, { op: "delete", key }, call);
    this.rec.ok(id, { deleted }, ret);
    return id;
  }
  cas(
    c: ClientId,
    call: number,
    ret: number,
    key: string,
    expected: string | null,
    value: string,
    ok: boolean,
  ) {
    const id = this.rec.call(c, { op: "cas", key, expected, value }, call);
    this.rec.ok(id, { succeeded: ok }, ret);
    return id;
  }
  casDelete(c: ClientId, call: number, ret: number, key: string, expected: string, ok: boolean) {
    const id = this.rec.call(c, { op: "casDelete", key, expected }, call);
    this.rec.ok(id, { succeeded: ok }, ret);
    return id;
  }
  /** An operation whose outcome is never known (timed out after its call). */
  unknown(c: ClientId, call: number, input: KvInput): number {
    const id = this.rec.call(c, input, call);
    this.rec.unknown(id);
    return id;
  }
  /** An operation that returned an error known to have no effect. */
  fail(c: ClientId, call: number, ret: number, input: KvInput): number {
    const id = this.rec.call(c, input, call);
    this.rec.fail(id, ret);
    return id;
  }
  check(): CheckResult {
    return checkLinearizable(this.rec.history());
  }
}

function expectLinearizable(h: H): void {
  const r = h.check();
  if (r.ok !== true) throw new Error(`expected linearizable, got ${r.ok}:\n${r.reason}`);
}

function expectViolation(h: H, key = "k"): Extract<CheckResult, { ok: false }> {
  const r = h.check();
  if (r.ok !== false) throw new Error(`expected a violation, got ok=${String(r.ok)}`);
  expect(r.key).toBe(key);
  return r;
}

// ---------------------------------------------------------------------------------------------

describe("linearizable histories", () => {
  it("accepts an empty history", () => {
    expect(checkLinearizable([])).toEqual({ ok: true, partitions: 0, steps: 0 });
  });

  it("accepts a sequential history of every operation", () => {
    const h = new H();
    h.get(1, 0, 1, "k", null);
    h.del(1, 2, 3, "k", 0);
    h.put(1, 4, 5, "k", "a");
    h.get(2, 6, 7, "k", "a");
    h.cas(1, 8, 9, "k", "a", "b", true);
    h.cas(2, 10, 11, "k", "a", "c", false);
    h.cas(2, 12, 13, "k", null, "c", false);
    h.get(1, 14, 15, "k", "b");
    h.casDelete(1, 16, 17, "k", "a", false);
    h.casDelete(1, 18, 19, "k", "b", true);
    h.cas(2, 20, 21, "k", null, "d", true);
    h.del(2, 22, 23, "k", 1);
    h.get(1, 24, 25, "k", null);
    expectLinearizable(h);
  });

  it("accepts a get overlapping a put whichever order it saw (old or new value)", () => {
    for (const seen of [null, "x"]) {
      const h = new H();
      h.put(1, 0, 10, "k", "x");
      h.get(2, 2, 8, "k", seen);
      expectLinearizable(h);
    }
  });

  it("accepts a read that sees a concurrent write before that write returned", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.put(1, 2, 10, "k", "b");
    h.get(2, 3, 5, "k", "b");
    h.get(3, 6, 7, "k", "b"); // once seen, stays
    expectLinearizable(h);
  });

  it("accepts two reads of a concurrent write that disagree only while the write is in flight", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.put(1, 2, 20, "k", "b");
    h.get(2, 3, 5, "k", "a");
    h.get(3, 4, 9, "k", "b");
    h.get(2, 10, 11, "k", "b");
    expectLinearizable(h);
  });

  it("accepts concurrent writes linearized in the opposite order to their calls", () => {
    // The search first tries a then b (state "b"); the same set {a, b} with state "a" must still be tried.
    const h = new H();
    h.put(1, 0, 10, "k", "a");
    h.put(2, 1, 10, "k", "b");
    h.get(3, 11, 12, "k", "a");
    expectLinearizable(h);
  });

  it("accepts compare-and-swap races where exactly one wins (either the earlier or the later caller)", () => {
    for (const winner of [0, 1]) {
      const h = new H();
      h.put(1, 0, 1, "k", "a");
      h.cas(2, 5, 10, "k", "a", "b", winner === 0);
      h.cas(3, 6, 9, "k", "a", "c", winner === 1);
      h.get(1, 11, 12, "k", winner === 0 ? "b" : "c");
      expectLinearizable(h);
    }
  });

  it("accepts a create-if-absent race (cas expecting absence) where one wins", () => {
    const h = new H();
    h.cas(1, 0, 10, "lock", null, "c1", false);
    h.cas(2, 1, 9, "lock", null, "c2", true);
    h.cas(3, 2, 8, "lock", null, "c3", false);
    h.get(1, 11, 12, "lock", "c2");
    h.casDelete(2, 13, 14, "lock", "c2", true);
    h.cas(1, 15, 16, "lock", null, "c1", true);
    expectLinearizable(h);
  });

  it("accepts an unknown put that took effect, even after its client moved on", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.unknown(1, 5, { op: "put", key: "k", value: "b" });
    h.put(1, 6, 7, "k", "c"); // same client, after giving up on "b"
    h.get(2, 8, 9, "k", "c");
    h.get(2, 30, 31, "k", "b"); // "b" was applied late (e.g. retried by a leader)
    expectLinearizable(h);
  });

  it("accepts an unknown put that never took effect", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.unknown(1, 2, { op: "put", key: "k", value: "b" });
    h.get(2, 10, 11, "k", "a");
    h.get(2, 100, 101, "k", "a");
    expectLinearizable(h);
  });

  it("accepts unknown cas and deletes either way, and ignores unknown reads", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.unknown(2, 2, { op: "cas", key: "k", expected: "a", value: "b" });
    h.unknown(3, 3, { op: "delete", key: "k" });
    h.unknown(4, 3, { op: "get", key: "k" });
    h.get(1, 4, 5, "k", "b");
    h.get(1, 6, 7, "k", null);
    expectLinearizable(h);
  });

  it("accepts an unknown write of a value nobody reads explaining a failed compare and a delete count", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.unknown(2, 2, { op: "put", key: "k", value: "x" }); // "x" is never read
    h.cas(1, 5, 6, "k", "a", "b", false); // only possible if "x" took effect first
    h.del(1, 7, 8, "k", 1);
    h.unknown(2, 9, { op: "put", key: "k", value: "y" }); // never read either
    h.del(1, 10, 11, "k", 1); // only possible if "y" took effect
    expectLinearizable(h);
    const without = new H();
    without.put(1, 0, 1, "k", "a");
    without.cas(1, 5, 6, "k", "a", "b", false);
    expectViolation(without);
  });

  it("places identical unknown operations only after their own calls", () => {
    // Two identical unknown deletes: the one called at 0 explains the read of null at [3, 4]; the one
    // called at 10 could not. Interchanging them must respect call times.
    const h = new H();
    h.unknown(1, 0, { op: "delete", key: "k" });
    h.put(2, 1, 2, "k", "a");
    h.get(2, 3, 4, "k", null);
    h.unknown(3, 10, { op: "delete", key: "k" });
    h.get(2, 11, 12, "k", null);
    expectLinearizable(h);
    const late = new H();
    late.put(2, 1, 2, "k", "a");
    late.get(2, 3, 4, "k", null);
    late.unknown(1, 10, { op: "delete", key: "k" });
    late.unknown(3, 10, { op: "delete", key: "k" });
    expectViolation(late);
  });

  it("does not treat a write of the current value as a no-op", () => {
    // After put(a), a second put(a) changes nothing at that point, but it must still be free to go
    // after put(b): that is the only order explaining the final read.
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.put(2, 2, 10, "k", "a");
    h.put(3, 3, 10, "k", "b");
    h.get(1, 11, 12, "k", "a");
    expectLinearizable(h);
  });

  it("drops failed operations: their values are never seen", () => {
    const h = new H();
    h.fail(1, 0, 1, { op: "put", key: "k", value: "x" });
    h.get(2, 0, 3, "k", null);
    expectLinearizable(h);
    h.get(2, 4, 5, "k", "x");
    expectViolation(h);
  });

  it("treats a return and a call at the same time as concurrent", () => {
    const h = new H();
    h.put(1, 0, 5, "k", "a");
    h.get(2, 5, 6, "k", null);
    expectLinearizable(h);
  });

  it("checks keys independently (a value of one key never explains another)", () => {
    const h = new H();
    h.put(1, 0, 10, "a", "1");
    h.put(2, 0, 10, "b", "1");
    h.get(3, 1, 2, "a", "1");
    h.get(3, 3, 4, "b", null);
    h.get(3, 11, 12, "b", "1");
    const r = h.check();
    expect(r).toMatchObject({ ok: true, partitions: 2 });
  });
});

describe("non-linearizable histories", () => {
  it("rejects a stale read after a completed write", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.get(2, 2, 3, "k", null);
    const r = expectViolation(h);
    expect(r.partialOrder).toEqual([0]);
    expect(r.unplacedOp).toBe(1);
    expect(r.reason).toContain('op#1 client 2 get("k") -> null [call 2, return 3]');
    expect(r.reason).toContain('it read null but the value was "a"');
  });

  it("rejects a read of a value never written", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.get(2, 0, 3, "k", "zzz");
    const r = expectViolation(h);
    expect(r.unplacedOp).toBe(1);
  });

  it("rejects two compare-and-swaps on the same expected value both succeeding", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.cas(2, 5, 10, "k", "a", "b", true);
    h.cas(3, 6, 9, "k", "a", "c", true);
    expectViolation(h);
  });

  it("rejects two creates of the same absent key both succeeding (a lock held twice)", () => {
    const h = new H();
    h.cas(1, 0, 10, "lock", null, "c1", true);
    h.cas(2, 1, 9, "lock", null, "c2", true);
    expectViolation(h, "lock");
  });

  it("rejects a value that appears, disappears and reappears without a write", () => {
    const h = new H();
    h.put(1, 0, 20, "k", "a"); // the only write, concurrent with all reads
    h.get(2, 1, 2, "k", "a");
    h.get(2, 3, 4, "k", null);
    h.get(2, 5, 6, "k", "a");
    const r = expectViolation(h);
    expect(r.partialOrder).toEqual([0, 1]);
    expect(r.unplacedOp).toBe(2);
  });

  it("rejects a lost acknowledged write (a later read sees the older value)", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.put(1, 2, 3, "k", "b");
    h.get(2, 4, 5, "k", "a");
    expectViolation(h);
  });

  it("rejects a read-your-writes violation across clients in real time", () => {
    // Client 1 writes k1 then k2; client 2 sees the k2 write, then reads k1 and misses it.
    const h = new H();
    h.put(1, 0, 1, "k1", "x");
    h.put(1, 2, 3, "k2", "y");
    h.get(2, 4, 5, "k2", "y");
    h.get(2, 6, 7, "k1", null);
    const r = expectViolation(h, "k1");
    expect(r.failedKeys).toEqual(["k1"]);
  });

  it("rejects a read-your-writes violation within one client", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.put(1, 2, 3, "k", "b");
    h.get(1, 4, 5, "k", "a");
    expectViolation(h);
  });

  it("rejects a value seen after an unknown put took effect, then lost", () => {
    const h = new H();
    h.put(1, 0, 1, "k", "a");
    h.unknown(1, 2, { op: "put", key: "k", value: "b" });
    h.get(2, 10, 11, "k", "b");
    h.get(2, 12, 13, "k", "a");
    expectViolation(h);
  });

  it("rejects a wrong deleted count and a cas failing although the value matched", () => {
    const a = new H();
    a.del(1, 0, 1, "k", 1);
    expectViolation(a);
    const b = new H();
    b.put(1, 0, 1, "k", "a");
    b.cas(1, 2, 3, "k", "a", "b", false);
    expect(expectViolation(b).reason).toContain('it failed but the value was the expected "a"');
  });

  it("reports every bad key, the first one in order of appearance", () => {
    const h = new H();
    h.put(1, 0, 1, "ok", "1");
    h.put(1, 0, 1, "bad1", "1");
    h.get(2, 2, 3, "bad1", null);
    h.get(2, 2, 3, "ok", "1");
    h.get(2, 2, 3, "bad2", "never");
    const r = expectViolation(h, "bad1");
    expect(r.failedKeys).toEqual(["bad1", "bad2"]);
    expect(r.reason).toContain('also not linearizable: "bad2"');
  });
});

describe("budget, validation and recorder", () => {
  it("returns ok: 'unknown' when the step budget runs out instead of searching on", () => {
    const rec = new HistoryRecorder();
    // 10 concurrent writes and a read of a never-written value: a violation only found by exhausting
    // orders. (The later failed compares make every written value observable, so none are merged.)
    for (let i = 0; i < 10; i++) rec.ok(rec.call(i, { op: "put", key: "k", value: `v${i}` }, 0), {}, 10);
    rec.ok(rec.call(99, { op: "get", key: "k" }, 0), { value: "none" }, 10);
    for (let i = 0; i < 10; i++) {
      rec.ok(rec.call(i, { op: "casDelete", key: "k", expected: `v${i}` }, 20), { succeeded: false }, 30);
    }
    const r = checkLinearizable(rec.history(), { maxSteps: 50 });
    expect(r.ok).toBe("unknown");
    if (r.ok === "unknown") expect(r.key).toBe("k");
    const timed = checkLinearizable(rec.history(), { timeoutMs: 0 });
    expect(timed.ok).toBe("unknown");
    if (timed.ok === "unknown") expect(timed.reason).toContain("time budget");
    // With the default budget the memoization makes it decidable: 2^10 subsets at most.
    expect(checkLinearizable(rec.history()).ok).toBe(false);
  });

  it("rejects malformed histories with RangeError and malformed outputs with TypeError", () => {
    const op = (over: Partial<Operation>): Operation => ({
      id: 0,
      client: 1,
      callTime: 5,
      returnTime: 6,
      input: { op: "get", key: "k" },
      outcome: { type: "ok", output: { value: null } },
      ...over,
    });
    expect(() => checkLinearizable([op({ returnTime: 4 })])).toThrow(RangeError);
    expect(() => checkLinearizable([op({ callTime: Number.NaN })])).toThrow(RangeError);
    expect(() => checkLinearizable([op({ returnTime: Number.POSITIVE_INFINITY })])).toThrow(RangeError);
    expect(() => checkLinearizable([op({}), op({})])).toThrow(/two operations have id 0/);
    const bad = op({ outcome: { type: "ok", output: { succeeded: true } as KvOutput } });
    expect(() => checkLinearizable([bad])).toThrow(TypeError);
  });

  it("records histories: ids, pending operations become unknown, misuse throws", () => {
    const h = new HistoryRecorder();
    const a = h.call("c1", { op: "put", key: "k", value: "v" }, 10);
    const b = h.call("c2", { op: "get", key: "k" }, 11);
    expect([a, b]).toEqual([0, 1]);
    h.ok(a, {}, 12);
    expect(() => h.ok(a, {}, 13)).toThrow(RangeError);
    expect(() => h.fail(b, 5)).toThrow(RangeError);
    expect(() => h.unknown(7)).toThrow(RangeError);
    const ops = h.history();
    expect(ops[0]).toEqual({
      id: 0,
      client: "c1",
      callTime: 10,
      returnTime: 12,
      input: { op: "put", key: "k", value: "v" },
      outcome: { type: "ok", output: {} },
    });
    expect(ops[1]).toMatchObject({
      id: 1,
      returnTime: Number.POSITIVE_INFINITY,
      outcome: { type: "unknown" },
    });
    expect(describeOperation(ops[1]!)).toBe('op#1 client c2 get("k") -> UNKNOWN [call 11, return +inf]');
  });
});

// ---------------------------------------------------------------------------------------------
// Randomized histories from a real sequential execution.

interface GenOptions {
  clients: number;
  keys: number;
  ops: number;
  /** Probability that an operation's outcome is unknown (half of those take effect, possibly late). */
  unknownRate: number;
  /** Probability that an operation fails with no effect. */
  failRate: number;
}

interface Planned {
  client: number;
  callTime: number;
  returnTime: number;
  input: KvInput;
  fate: "ok" | "fail" | "unknown";
  /** When it takes effect; undefined when it never does. */
  linPoint: number | undefined;
  output?: KvOutput;
}

/**
 * Plans operations with random overlapping timings, picks a linearization point for each one that
 * takes effect (strictly inside [call, return] for ok operations, anywhere after the call for
 * unknown ones), executes them against a plain Map in that order, and records what each returned.
 * The result is linearizable by construction. Every written value is unique.
 */
function generate(rng: Rng, o: GenOptions): Operation[] {
  const freeAt = new Array<number>(o.clients).fill(0);
  const lastValue = new Map<string, string | null>();
  const written: string[] = [];
  let valueSeq = 0;
  const planned: Planned[] = [];
  for (let i = 0; i < o.ops; i++) {
    let client = 0;
    for (let c = 1; c < o.clients; c++) if (freeAt[c]! < freeAt[client]!) client = c;
    const callTime = freeAt[client]! + rng.int(0, 3);
    const duration = rng.int(1, 12);
    const key = `k${rng.int(0, o.keys - 1)}`;
    const roll = rng.float();
    const expectedChoice = (): string | null => {
      const r = rng.float();
      if (r < 0.6) return lastValue.get(key) ?? null; // likely to succeed
      if (r < 0.8 || written.length === 0) return null;
      return rng.pick(written);
    };
    let input: KvInput;
    if (roll < 0.4) input = { op: "get", key };
    else if (roll < 0.65) input = { op: "put", key, value: `v${valueSeq++}` };
    else if (roll < 0.8) input = { op: "cas", key, expected: expectedChoice(), value: `v${valueSeq++}` };
    else if (roll < 0.9) input = { op: "delete", key };
    else input = { op: "casDelete", key, expected: expectedChoice() ?? "v0" };
    if (input.op === "put" || input.op === "cas") {
      written.push(input.value);
      lastValue.set(key, input.value);
    }
    const fateRoll = rng.float();
    const fate = fateRoll < o.unknownRate ? "unknown" : fateRoll < o.unknownRate + o.failRate ? "fail" : "ok";
    let linPoint: number | undefined;
    if (fate === "ok") linPoint = callTime + duration * (0.01 + 0.98 * rng.float());
    else if (fate === "unknown" && rng.chance(0.5)) linPoint = callTime + 60 * rng.float();
    planned.push({ client, callTime, returnTime: callTime + duration, input, fate, linPoint });
    freeAt[client] = callTime + duration;
  }

  const store = new Map<string, string>();
  const order = planned.filter((p) => p.linPoint !== undefined).sort((a, b) => a.linPoint! - b.linPoint!);
  for (const p of order) {
    const cur = store.get(p.input.key) ?? null;
    const i = p.input;
    switch (i.op) {
      case "get":
        p.output = { value: cur };
        break;
      case "put":
        store.set(i.key, i.value);
        p.output = {};
        break;
      case "delete":
        store.delete(i.key);
        p.output = { deleted: cur === null ? 0 : 1 };
        break;
      case "cas":
        if (cur === i.expected) store.set(i.key, i.value);
        p.output = { succeeded: cur === i.expected };
        break;
      case "casDelete":
        if (cur === i.expected) store.delete(i.key);
        p.output = { succeeded: cur === i.expected };
        break;
    }
  }

  const rec = new HistoryRecorder();
  for (const p of planned) {
    const id = rec.call(p.client, p.input, p.callTime);
    if (p.fate === "ok") rec.ok(id, p.output!, p.returnTime);
    else if (p.fate === "fail") rec.fail(id, p.returnTime);
    else rec.unknown(id);
  }
  return rec.history();
}

/** True when the op certainly changed the key's value (so an older value is gone). */
function certainlyOverwrote(op: Operation): boolean {
  if (op.outcome.type !== "ok") return false;
  const out = op.outcome.output as Partial<{ deleted: number; succeeded: boolean }>;
  switch (op.input.op) {
    case "put":
      return true;
    case "delete":
      return out.deleted === 1;
    case "cas":
    case "casDelete":
      return out.succeeded === true;
    default:
      return false;
  }
}

type Mutation = { kind: "stale" | "future" | "fresh"; readId: number; value: string };

/**
 * Changes the output of one ok read to a value that no linearization can give it:
 * - "future": written only by an operation called after the read returned;
 * - "stale": written by an operation W that returned before an operation W2 that certainly
 *   overwrote the key was called, and W2 returned before the read was called (values are unique,
 *   so once W2 took effect W's value never comes back);
 * - "fresh" (only when no read allows either): a value never written.
 */
function mutateOneRead(rng: Rng, history: Operation[]): { history: Operation[]; mutation: Mutation } {
  const reads = history.filter((op) => op.input.op === "get" && op.outcome.type === "ok");
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    if (op.outcome.type === "fail") continue;
    let ops = byKey.get(op.input.key);
    if (ops === undefined) byKey.set(op.input.key, (ops = []));
    ops.push(op);
  }
  const options: Mutation[] = [];
  for (const r of reads) {
    const same = byKey.get(r.input.key)!;
    // Latest call time of an operation that certainly overwrote the key and returned before r's call:
    // a value whose writer returned before that was overwritten for good before r.
    let overwrittenBefore = Number.NEGATIVE_INFINITY;
    for (const w2 of same) {
      if (certainlyOverwrote(w2) && w2.returnTime < r.callTime) {
        overwrittenBefore = Math.max(overwrittenBefore, w2.callTime);
      }
    }
    for (const w of same) {
      if (w.input.op !== "put" && w.input.op !== "cas") continue;
      const value = w.input.value;
      if (w.callTime > r.returnTime) options.push({ kind: "future", readId: r.id, value });
      else if (w.outcome.type === "ok" && w.returnTime < overwrittenBefore) {
        options.push({ kind: "stale", readId: r.id, value });
      }
    }
  }
  const mutation: Mutation =
    options.length > 0
      ? rng.pick(options)
      : { kind: "fresh", readId: rng.pick(reads).id, value: "never-written" };
  const mutated = history.map((op) =>
    op.id === mutation.readId
      ? { ...op, outcome: { type: "ok" as const, output: { value: mutation.value } } }
      : op,
  );
  const before = history[mutation.readId]!.outcome;
  expect(before.type === "ok" && (before.output as { value: unknown }).value).not.toBe(mutation.value);
  return { history: mutated, mutation };
}

/**
 * Generates a history from `seed`, checks it is accepted, corrupts one read and checks that the
 * corrupted history is rejected for that read's key. Returns the kind of corruption.
 */
function roundTrip(seed: number, options: (rng: Rng) => GenOptions): Mutation["kind"] {
  const rng = new Rng(seed);
  const history = generate(rng, options(rng));
  const good = checkLinearizable(history);
  if (good.ok !== true) throw new Error(`generated history rejected (ok=${good.ok}): ${good.reason}`);

  const { history: bad, mutation } = mutateOneRead(rng, history);
  const r = checkLinearizable(bad);
  if (r.ok !== false) {
    const what = r.ok === "unknown" ? `undecided (${r.reason})` : "accepted";
    throw new Error(
      `history with read op#${mutation.readId} corrupted (${mutation.kind} ${mutation.value}) was ${what}`,
    );
  }
  expect(r.key).toBe(history[mutation.readId]!.input.key);
  return mutation.kind;
}

describe("randomized histories (replay one seed with SIM_SEED=<n>)", () => {
  it("accepts histories of a real sequential execution and rejects them once a read is corrupted", () => {
    const kinds = { stale: 0, future: 0, fresh: 0 };
    forEachSeed(150, (seed) => {
      const kind = roundTrip(seed, (rng) => ({
        clients: rng.int(2, 6),
        keys: rng.int(1, 3),
        ops: rng.int(10, 80),
        unknownRate: rng.pick([0, 0.05, 0.15]),
        failRate: rng.pick([0, 0.05]),
      }));
      kinds[kind]++;
    });
    // The corruptions must mostly be the subtle kinds, not values nobody ever wrote.
    const total = kinds.stale + kinds.future + kinds.fresh;
    if (total >= 50) {
      expect(kinds.stale).toBeGreaterThan(total / 4);
      expect(kinds.future).toBeGreaterThan(total / 10);
    }
  });

  it("does the same for long single-key histories with more clients and more unknown outcomes", () => {
    forEachSeed(100, (seed) => {
      roundTrip(seed, (rng) => ({
        clients: rng.int(2, 10),
        keys: 1,
        ops: rng.int(100, 250),
        unknownRate: rng.pick([0, 0.05, 0.1]),
        failRate: 0.02,
      }));
    });
  });

  it("checks 10,000 operations over 50 keys with 8 concurrent clients, and finds one corrupted read", () => {
    const rng = new Rng(20_240_601);
    const history = generate(rng, { clients: 8, keys: 50, ops: 10_000, unknownRate: 0.02, failRate: 0.02 });
    const good = checkLinearizable(history);
    expect(good).toMatchObject({ ok: true, partitions: 50 });

    const { history: bad, mutation } = mutateOneRead(rng, history);
    const r = checkLinearizable(bad);
    expect(r.ok).toBe(false);
    if (r.ok === false) expect(r.unplacedOp).toBeDefined();
    expect(mutation.kind).not.toBe("fresh");
  });

  it("checks a single contended key (2,000 operations, 8 clients) without partitioning to help", () => {
    const rng = new Rng(7);
    const history = generate(rng, { clients: 8, keys: 1, ops: 2_000, unknownRate: 0.02, failRate: 0 });
    expect(checkLinearizable(history)).toMatchObject({ ok: true, partitions: 1 });
  });
});
