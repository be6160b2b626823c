/**
 * The checks of the KV simulation can fail: deliberately broken variants of the harness
 * (config.ts HarnessBug) must be caught on some seed, and each safety invariant (invariants.ts)
 * must reject a violation fed to it directly.
 */
import { describe, expect, it } from "vitest";
import { EntryType } from "../../../src/raft/types.ts";
import type { HarnessBug } from "./config.ts";
import { SafetyChecker } from "./invariants.ts";
import type { KvNode } from "./node.ts";
import { runSeed, SimFailure } from "./run.ts";

/** Seeds tried per broken variant before giving up (each is caught within a few seeds). */
const MAX_SEEDS = 30;

/** The first failure of `bug` over seeds 1..MAX_SEEDS, with its seed. */
function firstFailure(bug: HarnessBug): { seed: number; message: string } | undefined {
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    try {
      runSeed(seed, { overrides: { bug } });
    } catch (err) {
      if (!(err instanceof SimFailure)) throw err;
      return { seed, message: err.message };
    }
  }
  return undefined;
}

describe("KV simulation checkers catch a broken harness", () => {
  it("a put acknowledged before it is committed is reported lost or non-linearizable", () => {
    const f = firstFailure("ackBeforeCommit");
    expect(f, "no seed caught ackBeforeCommit").toBeDefined();
    expect(f!.message).toMatch(/acknowledged write lost|not linearizable/);
  }, 300_000);

  it("gets served from local state without ReadIndex are not linearizable", () => {
    const f = firstFailure("localReads");
    expect(f, "no seed caught localReads").toBeDefined();
    expect(f!.message).toMatch(/history is not linearizable/);
  }, 300_000);

  it("a disk whose fsync does nothing loses state that a crash must keep", () => {
    const f = firstFailure("fsyncIsNoop");
    expect(f, "no seed caught fsyncIsNoop").toBeDefined();
    expect(f!.message).toMatch(/SafetyViolation|StorageCorruptError|AssertionError|LivenessFailure/);
  }, 300_000);
});

/** A stand-in member whose Raft state the checker reads. */
function fakeNode(n: number, term: number, role: "leader" | "follower", commit = 0): KvNode {
  const raft = { term, role, log: { committed: commit, firstIndex: () => 1 } };
  return {
    id: n.toString(16).padStart(16, "0"),
    name: `n${n}`,
    incarnation: 1,
    core: { raft, logTerm: () => undefined },
  } as unknown as KvNode;
}

function entry(index: number, term: number, text: string) {
  return { index, term, type: EntryType.Normal, data: new TextEncoder().encode(text) };
}

describe("KV simulation invariants reject violations", () => {
  it("two leaders in one term (Election Safety, §5.2)", () => {
    const c = new SafetyChecker({ nowMs: 5 });
    c.observe(fakeNode(1, 3, "leader"));
    expect(() => c.observe(fakeNode(2, 3, "leader"))).toThrow(/two leaders in term 3/);
  });

  it("a committed index applied with another entry (State Machine Safety, §5.4.3)", () => {
    const c = new SafetyChecker({ nowMs: 5 });
    c.onApply(fakeNode(1, 2, "follower"), entry(1, 2, "a"));
    expect(() => c.onApply(fakeNode(2, 2, "follower"), entry(1, 2, "b"))).toThrow(
      /applied \(index 1, term 2\)/,
    );
  });

  it("a committed entry overwritten by a later term (Leader Completeness, §5.4)", () => {
    const c = new SafetyChecker({ nowMs: 5 });
    c.onApply(fakeNode(1, 2, "follower"), entry(1, 2, "a"));
    // A deposed leader of an older term may still write there; a newer term may not.
    c.onPersist(fakeNode(3, 1, "leader"), [entry(1, 1, "stale")]);
    expect(() => c.onPersist(fakeNode(2, 3, "leader"), [entry(1, 3, "b")])).toThrow(/over committed/);
  });

  it("states that differ at one applied index", () => {
    const c = new SafetyChecker({ nowMs: 5 });
    c.onStateDigest(fakeNode(1, 1, "follower"), 8, 1234);
    expect(() => c.onStateDigest(fakeNode(2, 1, "follower"), 8, 4321)).toThrow(/differs/);
  });

  it("a read index below what was committed when the read started (thesis §6.4)", () => {
    const c = new SafetyChecker({ nowMs: 5 });
    c.observe(fakeNode(1, 2, "leader", 7));
    const reader = fakeNode(2, 2, "follower");
    c.onReadRoundStart(reader, "01");
    expect(() => c.onReadRoundAnswered(reader, "01", 6)).toThrow(/read index 6/);
  });

  it("one proposal committed twice (at most once)", () => {
    const c = new SafetyChecker({ nowMs: 5 });
    const p = "\u0001".padEnd(17, "x");
    c.onApply(fakeNode(1, 2, "follower"), entry(1, 2, `${p}a`));
    expect(() => c.onApply(fakeNode(1, 2, "follower"), entry(2, 2, `${p}a`))).toThrow(/committed twice/);
  });
});
