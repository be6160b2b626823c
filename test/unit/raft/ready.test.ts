/**
 * The Ready contract (etcd-io/raft RawNode): persist, then send, then apply, then advance. A crash
 * loses what was not persisted, and the member restarts from what was.
 */
import { describe, expect, it } from "vitest";
import { MessageType } from "../../../src/raft/types.ts";
import { AssertionError } from "../../../src/util/assert.ts";
import { bytes, ids, makeCore, Network } from "./network.ts";

const [A, B, C] = ids(3) as [string, string, string];

describe("Ready contract", () => {
  it("no second Ready before advance(); hasReady() is false meanwhile", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] });
    core.campaign();
    expect(core.hasReady()).toBe(true);
    const rd = core.ready();
    expect(core.hasReady()).toBe(false);
    expect(() => core.ready()).toThrow(AssertionError);
    core.tick(); // steps are still accepted
    core.advance(rd);
    expect(core.hasReady()).toBe(false);
  });

  it("advance() with another Ready is an assertion", () => {
    const core = makeCore(A, { voters: [A], learners: [] });
    core.campaign();
    const rd = core.ready();
    expect(() => core.advance({ ...rd })).toThrow(AssertionError);
  });

  it("soft state appears when the role or leader changes", () => {
    const core = makeCore(A, { voters: [A], learners: [] });
    expect(core.hasReady()).toBe(false);
    core.campaign();
    const rd = core.ready();
    expect(rd.softState).toEqual({ leader: A, role: "leader" });
    core.advance(rd);
    const rd2 = core.ready();
    expect(rd2.softState).toBeUndefined();
    core.advance(rd2);
  });

  it("a follower's append response is in the same Ready as the entries it acknowledges", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.core(A).propose([bytes("x")]);
    net.deliver(net.handleReady(A, false));
    const rd = net.core(B).ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.messages.find((m) => m.type === MessageType.AppResp)?.index).toBe(2);
    net.core(B).advance(rd);
  });

  it("committed entries that are not yet durable come with them (persist first, then apply)", () => {
    const core = makeCore(B, { voters: [A, B, C], learners: [] });
    core.step({
      type: MessageType.App,
      from: A,
      to: B,
      term: 1,
      logTerm: 0,
      index: 0,
      entries: [{ term: 1, index: 1, type: 0, data: new Uint8Array() }],
      commit: 1,
      reject: false,
      rejectHint: 0,
    });
    const rd = core.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([1]);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([1]);
    expect(rd.hardState).toEqual({ term: 1, vote: "", commit: 1 });
  });

  it("entries truncated between ready() and advance(): the still-matching prefix becomes stable (§5.3)", () => {
    const core = makeCore(B, { voters: [A, B, C], learners: [] }, { snapshotCatchUpEntries: 0 });
    const app = (term: number, index: number, logTerm: number, ents: [number, number][], commit: number) =>
      core.step({
        type: MessageType.App,
        from: A,
        to: B,
        term,
        logTerm,
        index,
        entries: ents.map(([t, i]) => ({ term: t, index: i, type: 0, data: bytes(`t${t}i${i}`) })),
        commit,
        reject: false,
        rejectHint: 0,
      });
    app(
      1,
      0,
      0,
      [
        [1, 1],
        [1, 2],
        [1, 3],
        [1, 4],
      ],
      2,
    );
    const rd = core.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    // Before the app is done, a leader of term 2 replaces index 4.
    app(2, 3, 1, [[2, 4]], 2);
    core.advance(rd);
    // Entries 1..3 are the ones persisted; only the new index 4 is unstable.
    const rd2 = core.ready();
    expect(rd2.entries.map((e) => [e.index, e.term])).toEqual([[4, 2]]);
    core.advance(rd2);
    // Compacting up to the applied index is fine (entries below it are durable).
    core.compact({
      metadata: { index: 2, term: 1, confState: { voters: [A, B, C], learners: [] } },
      data: new Uint8Array(),
    });
    expect(core.status().firstIndex).toBe(3);
  });

  it("a crash before persisting loses the Ready; the member restarts from what was persisted", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.propose(A, "durable");
    // C receives an append but crashes before handling its Ready.
    net.core(A).propose([bytes("lost-on-c")]);
    net.deliver(net.handleReady(A, false).filter((m) => m.to === C));
    expect(net.core(C).status().lastIndex).toBe(3);
    net.crash(C);
    const c = net.restart(C);
    expect(c.core.status()).toMatchObject({ lastIndex: 2, term: 1, commit: 2 });
    // C re-applies from its persisted commit index (applied restarts at 0 without a snapshot).
    net.heal();
    net.tickAll(3);
    expect(net.appliedData(C)).toEqual(["durable", "lost-on-c"]);
  });

  it("a restarted leader keeps its term and vote and cannot vote again in that term", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.crash(B);
    const b = net.restart(B);
    expect(b.core.status()).toMatchObject({ term: 1, vote: A, role: "follower" });
    b.core.step({
      type: MessageType.Vote,
      from: C,
      to: B,
      term: 1,
      logTerm: 1,
      index: 1,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
    });
    expect(b.core.ready().messages[0]).toMatchObject({ type: MessageType.VoteResp, reject: true });
  });

  it("invalid configuration is rejected", () => {
    expect(() => makeCore(A, { voters: [A], learners: [] }, { electionTick: 1, heartbeatTick: 1 })).toThrow(
      AssertionError,
    );
    expect(() => makeCore(A, { voters: [A, B], learners: [B] })).toThrow(AssertionError);
    expect(() =>
      makeCore(
        A,
        { voters: [A], learners: [] },
        { initial: { hardState: { term: 1, vote: "", commit: 3 } } },
      ),
    ).toThrow(AssertionError);
  });

  it("status() reports the leader's view of every member's progress", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.propose(A, "x");
    const st = net.core(A).status();
    expect(st).toMatchObject({
      id: A,
      term: 1,
      vote: A,
      commit: 2,
      applied: 2,
      lastIndex: 2,
      leader: A,
      role: "leader",
    });
    expect(st.confState).toEqual({ voters: ids(3), learners: [] });
    expect([...(st.progress?.entries() ?? [])].map(([id, p]) => [id, p.match, p.state])).toEqual([
      [A, 2, "replicate"],
      [B, 2, "replicate"],
      [C, 2, "replicate"],
    ]);
    expect(net.core(B).status().progress).toBeUndefined();
  });
});
