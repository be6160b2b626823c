/**
 * Log replication (Raft paper §5.3), commitment rules (§5.4.2, Figure 8), proposals.
 */
import { describe, expect, it } from "vitest";
import { type Entry, type Message, MessageType } from "../../../src/raft/types.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { bytes, entries, ids, makeCore, Network } from "./network.ts";

const [A, B, C, D, E] = ids(5) as [string, string, string, string, string];

function msg(fields: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return { term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...fields };
}

/** Terms of the log of `id` in the network, index 1..last. */
function logTerms(net: Network, id: string): number[] {
  const core = net.core(id);
  const last = core.status().lastIndex;
  return Array.from({ length: last }, (_, i) => core.logTerm(i + 1) ?? -1);
}

function storedTerms(net: Network, id: string): number[] {
  return net.node(id).store.entries.map((e) => e.term);
}

describe("leader's first entry", () => {
  it("a new leader appends an empty Normal entry of its term (§5.4.2, thesis §6.4)", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    for (const id of ids(3)) {
      const applied = net.node(id).applied;
      expect(applied).toHaveLength(1);
      expect(applied[0]).toMatchObject({ index: 1, term: 1, type: 0 });
      expect(applied[0]!.data.length).toBe(0);
    }
  });
});

describe("log matching and conflict resolution (§5.3, Figure 7)", () => {
  // Figure 7: the leader of term 8 and follower logs (a)–(f).
  const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    "(a) missing entries": [1, 1, 1, 4, 4, 5, 5, 6, 6],
    "(b) missing many entries": [1, 1, 1, 4],
    "(c) an extra uncommitted entry": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    "(d) extra entries of a later term": [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    "(e) missing and extra entries": [1, 1, 1, 4, 4, 4, 4],
    "(f) many conflicting entries of old terms": [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  for (const [name, followerTerms] of Object.entries(followers)) {
    it(`follower ${name} converges to the leader's log`, () => {
      const net = new Network({ voters: ids(3), learners: [] }, (id) => {
        if (id === A)
          return { initial: { entries: entries(leaderTerms), hardState: { term: 7, vote: "", commit: 3 } } };
        if (id === B)
          return {
            initial: { entries: entries(followerTerms), hardState: { term: 7, vote: "", commit: 3 } },
          };
        return { initial: { hardState: { term: 7, vote: "", commit: 0 } } };
      });
      net.elect(A);
      expect(net.core(A).status()).toMatchObject({ role: "leader", term: 8 });
      const expected = [...leaderTerms, 8];
      expect(logTerms(net, B)).toEqual(expected);
      expect(storedTerms(net, B)).toEqual(expected);
      expect(logTerms(net, C)).toEqual(expected);
      expect(net.core(B).status().commit).toBe(11);
    });
  }

  it("a follower truncates a conflicting suffix and keeps matching entries", () => {
    const core = makeCore(
      B,
      { voters: [A, B, C], learners: [] },
      {
        initial: { entries: entries([1, 1, 2, 2]), hardState: { term: 2, vote: "", commit: 2 } },
      },
    );
    core.step(
      msg({
        type: MessageType.App,
        from: A,
        to: B,
        term: 3,
        index: 2,
        logTerm: 1,
        entries: entries([3], 3),
        commit: 2,
      }),
    );
    const rd = core.ready();
    expect(rd.entries.map((e) => [e.index, e.term])).toEqual([[3, 3]]);
    expect(rd.messages[0]).toMatchObject({ type: MessageType.AppResp, reject: false, index: 3 });
    expect(core.status().lastIndex).toBe(3);
  });

  it("an append whose previous entry does not match is rejected (§5.3 consistency check)", () => {
    const core = makeCore(
      B,
      { voters: [A, B, C], learners: [] },
      {
        initial: { entries: entries([1, 1]), hardState: { term: 1, vote: "", commit: 0 } },
      },
    );
    core.step(
      msg({ type: MessageType.App, from: A, to: B, term: 2, index: 2, logTerm: 2, entries: entries([2], 3) }),
    );
    const resp = core.ready().messages[0]!;
    expect(resp).toMatchObject({
      type: MessageType.AppResp,
      reject: true,
      index: 2,
      rejectHint: 2,
      logTerm: 1,
    });
    expect(core.status().lastIndex).toBe(2);
  });

  it("a follower never truncates a committed entry: an append from below the commit index changes nothing", () => {
    const core = makeCore(
      B,
      { voters: [A, B, C], learners: [] },
      {
        initial: { entries: entries([1, 1, 1]), hardState: { term: 1, vote: "", commit: 3 } },
      },
    );
    // A (forged) append that would replace committed index 3 with a term-2 entry.
    core.step(
      msg({ type: MessageType.App, from: A, to: B, term: 2, index: 2, logTerm: 1, entries: entries([2], 3) }),
    );
    expect(core.logTerm(3)).toBe(1);
    expect(core.ready().messages[0]).toMatchObject({ type: MessageType.AppResp, reject: false, index: 3 });
  });

  it("an uncommitted conflicting entry is replaced", () => {
    const core = makeCore(
      B,
      { voters: [A, B, C], learners: [] },
      {
        initial: { entries: entries([1, 1, 1]), hardState: { term: 1, vote: "", commit: 2 } },
      },
    );
    core.step(
      msg({ type: MessageType.App, from: A, to: B, term: 2, index: 2, logTerm: 1, entries: entries([2], 3) }),
    );
    expect(core.logTerm(3)).toBe(2);
  });

  it("stale appends below the commit index are answered with the commit index", () => {
    const core = makeCore(
      B,
      { voters: [A, B, C], learners: [] },
      {
        initial: { entries: entries([1, 1, 1]), hardState: { term: 1, vote: "", commit: 3 } },
      },
    );
    core.step(
      msg({ type: MessageType.App, from: A, to: B, term: 1, index: 1, logTerm: 1, entries: entries([1], 2) }),
    );
    expect(core.ready().messages[0]).toMatchObject({ type: MessageType.AppResp, reject: false, index: 3 });
  });
});

describe("fast back-off (§5.3, etcd findConflictByTerm)", () => {
  const cases: { name: string; leader: number[]; follower: number[]; maxRejections: number }[] = [
    {
      name: "long follower tail of one stale term",
      leader: [1, 3, 3, 3],
      follower: [1, ...Array(100).fill(2)],
      maxRejections: 2,
    },
    { name: "follower far behind", leader: [1, ...Array(100).fill(2)], follower: [1, 2], maxRejections: 1 },
    {
      name: "several stale terms on the follower",
      leader: [1, 1, 5, 5, 5, 5, 5, 5],
      follower: [1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4],
      maxRejections: 3,
    },
    {
      name: "several stale terms on the leader",
      leader: [1, 2, 2, 3, 3, 4, 4, 4, 4, 4, 4, 4],
      follower: [1, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5],
      maxRejections: 3,
    },
  ];
  for (const c of cases) {
    it(`converges with at most ${c.maxRejections} rejections: ${c.name}`, () => {
      const leaderLastTerm = c.leader[c.leader.length - 1]!;
      const followerLastTerm = c.follower[c.follower.length - 1]!;
      const term = Math.max(leaderLastTerm, followerLastTerm);
      const net = new Network({ voters: [A, B, C], learners: [] }, (id) => {
        if (id === A)
          return { initial: { entries: entries(c.leader), hardState: { term, vote: "", commit: 1 } } };
        if (id === B)
          return { initial: { entries: entries(c.follower), hardState: { term, vote: "", commit: 1 } } };
        return { initial: { hardState: { term, vote: "", commit: 0 } } };
      });
      net.elect(A);
      expect(net.core(A).status().role).toBe("leader");
      const rejections = net.log.filter((m) => m.type === MessageType.AppResp && m.from === B && m.reject);
      expect(rejections.length).toBeLessThanOrEqual(c.maxRejections);
      expect(logTerms(net, B)).toEqual(logTerms(net, A));
    });
  }
});

describe("commitment (§5.3, §5.4.2)", () => {
  it("commit advances only when a quorum of voters has the entry", () => {
    const net = new Network({ voters: ids(5), learners: [] });
    net.elect(A);
    net.isolate(C);
    net.isolate(D);
    net.isolate(E);
    net.propose(A, "x");
    // Leader and B: 2 of 5.
    expect(net.core(A).status().commit).toBe(1);
    expect(net.appliedData(A)).toEqual([]);
    net.heal();
    net.isolate(D);
    net.isolate(E);
    net.tickAll(2);
    // Leader, B and C: 3 of 5.
    expect(net.core(A).status().commit).toBe(2);
    expect(net.appliedData(A)).toEqual(["x"]);
  });

  it("the leader counts itself only once its entries are durable (advance)", () => {
    const core = makeCore(A, { voters: [A], learners: [] });
    core.campaign();
    const rd1 = core.ready();
    expect(rd1.entries).toHaveLength(1);
    expect(rd1.committedEntries).toHaveLength(0);
    expect(core.status().commit).toBe(0);
    core.advance(rd1);
    expect(core.status().commit).toBe(1);
    const rd2 = core.ready();
    expect(rd2.hardState?.commit).toBe(1);
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([1]);
    core.advance(rd2);
    expect(core.status().applied).toBe(1);
  });

  it("Figure 8: a leader does not commit an entry of an earlier term by counting replicas", () => {
    // Figure 8 (c): S1 (log 1, 2@term2) leads term 4 and copies its term-2 entry at index 2 to S2
    // and S3, but not yet its own no-op (3@term4). S5 holds 2@term3. One entry per MsgApp.
    const [S1, S2, S3, S4, S5] = [A, B, C, D, E];
    const logs: Record<string, number[]> = { [S1]: [1, 2], [S2]: [1], [S3]: [1], [S4]: [1], [S5]: [1, 3] };
    const net = new Network({ voters: ids(5), learners: [] }, (id) => ({
      maxAppendBytes: 1,
      initial: { entries: entries(logs[id]!), hardState: { term: 3, vote: "", commit: 1 } },
    }));
    net.isolate(S5);
    net.drop((m) => m.type === MessageType.App && m.to === S4 && m.entries.length > 0);
    // S2 and S3 get index 2 but never index 3.
    net.drop(
      (m) =>
        m.type === MessageType.App &&
        (m.to === S2 || m.to === S3) &&
        m.entries.some((e: Entry) => e.index >= 3) &&
        net.core(m.to).logTerm(2) === 2,
    );
    net.elect(S1);
    expect(net.core(S1).status()).toMatchObject({ role: "leader", term: 4 });
    expect(net.core(S1).status().progress?.get(S2)?.match).toBe(2);
    expect(net.core(S1).status().progress?.get(S3)?.match).toBe(2);
    for (const id of [S2, S3]) expect(net.core(id).logTerm(2)).toBe(2);
    // Index 2 is on S1, S2, S3 (a majority) but from term 2: it must not be committed.
    for (const id of [S1, S2, S3]) expect(net.core(id).status().commit).toBe(1);
    expect(net.appliedData(S1)).toEqual(["t1i1"]);

    // (d): S1 crashes; S5 (last term 3) is elected by S2, S3, S4 and overwrites index 2 everywhere.
    net.crash(S1);
    net.heal();
    net.elect(S5); // term 4: everyone already voted for S1 in term 4
    net.elect(S5); // term 5
    expect(net.core(S5).status()).toMatchObject({ role: "leader", term: 5 });
    for (const id of [S2, S3, S4, S5]) {
      expect(net.core(id).logTerm(2)).toBe(3);
      expect(net.appliedData(id)).toEqual(["t1i1", "t3i2"]);
    }
  });

  it("Figure 8 (e): once an entry of the leader's term is on a majority, earlier entries commit with it", () => {
    const [S1, S2, S3, S4, S5] = [A, B, C, D, E];
    const logs: Record<string, number[]> = { [S1]: [1, 2], [S2]: [1, 2], [S3]: [1], [S4]: [1], [S5]: [1, 3] };
    const net = new Network({ voters: ids(5), learners: [] }, (id) => ({
      initial: { entries: entries(logs[id]!), hardState: { term: 3, vote: "", commit: 1 } },
    }));
    net.isolate(S5);
    net.isolate(S4);
    net.elect(S1);
    expect(net.core(S1).status()).toMatchObject({ role: "leader", term: 4, commit: 3 });
    // S5 can no longer win: S1, S2, S3 hold a term-4 entry and reject it (§5.4.1).
    net.heal();
    net.isolate(S1);
    net.elect(S5);
    expect(net.core(S5).status().role).not.toBe("leader");
    expect(net.appliedData(S2)).toEqual(["t1i1", "t2i2"]);
  });

  it("heartbeats carry min(match, commit) and followers advance their commit index from them", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    // C misses the append and the commit broadcast.
    net.isolate(C);
    net.propose(A, "x");
    expect(net.core(C).status().commit).toBe(1);
    net.heal();
    net.core(A).tick();
    const hb = net.handleReady(A, false).filter((m) => m.type === MessageType.Heartbeat);
    expect(hb.find((m) => m.to === B)?.commit).toBe(2);
    expect(hb.find((m) => m.to === C)?.commit).toBe(1); // C's match is 1
    net.deliver(hb);
    net.stabilize();
    expect(net.core(C).status().commit).toBe(2);
    expect(net.appliedData(C)).toEqual(["x"]);
  });
});

describe("commit-only appends (Message.commitOnly)", () => {
  it("after a commit the leader tells followers in replicate state in commit-only appends, which they accept without answering", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    const from = net.log.length;
    net.propose(A, "x");
    const sent = net.log.slice(from);
    const appends = sent.filter((m) => m.type === MessageType.App);
    // The entry goes out as usual, then the commit index in commit-only appends (one per follower).
    expect(appends.filter((m) => m.entries.length > 0).map((m) => m.commitOnly ?? false)).toEqual([
      false,
      false,
    ]);
    const commitOnly = appends.filter((m) => m.entries.length === 0);
    expect(commitOnly.map((m) => [m.to, m.commitOnly, m.index, m.commit]).sort()).toEqual([
      [B, true, 2, 2],
      [C, true, 2, 2],
    ]);
    // Only the appends carrying the entry were answered.
    expect(
      sent
        .filter((m) => m.type === MessageType.AppResp)
        .map((m) => [m.from, m.index])
        .sort(),
    ).toEqual([
      [B, 2],
      [C, 2],
    ]);
    for (const id of ids(3)) {
      expect(net.core(id).status().commit).toBe(2);
      expect(net.appliedData(id)).toEqual(["x"]);
    }
  });

  it("an empty append to a follower whose acknowledgement is missing is not commit-only, and is answered", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    // B's answers are lost: A commits with C, then tells B the commit index with B's match unknown.
    net.drop((m) => m.from === B && m.type === MessageType.AppResp);
    const from = net.log.length;
    net.propose(A, "x");
    const sent = net.log.slice(from);
    const toB = sent.filter((m) => m.type === MessageType.App && m.to === B && m.entries.length === 0);
    expect(toB.map((m) => [m.index, m.commit, m.commitOnly ?? false])).toEqual([[2, 2, false]]);
    expect(sent.filter((m) => m.type === MessageType.AppResp && m.from === B).map((m) => m.index)).toEqual([
      2, 2,
    ]);
    expect(net.core(A).status().progress?.get(B)?.match).toBe(1);
  });

  it("a follower whose answers were lost is caught up after the next heartbeat by an answered empty append", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.drop((m) => m.from === B && m.type === MessageType.AppResp);
    net.propose(A, "x");
    net.heal();
    const from = net.log.length;
    net.tick(A); // heartbeatTick is 1 in these tests
    net.stabilize();
    const sent = net.log.slice(from);
    const toB = sent.filter((m) => m.type === MessageType.App && m.to === B);
    expect(toB.map((m) => [m.index, m.entries.length, m.commitOnly ?? false])).toEqual([[2, 0, false]]);
    expect(sent.filter((m) => m.type === MessageType.AppResp && m.from === B).map((m) => m.index)).toEqual([
      2,
    ]);
    expect(net.core(A).status().progress?.get(B)?.match).toBe(2);
  });

  /** Follower B with entries 1..2 of term 1 (1 committed), after a commit-only append (term, prev index/term, commit). */
  function followerAfterCommitOnly(term: number, index: number, logTerm: number, commit: number) {
    const core = makeCore(
      B,
      { voters: [A, B, C], learners: [] },
      { initial: { entries: entries([1, 1]), hardState: { term: 1, vote: "", commit: 1 } } },
    );
    core.step(msg({ type: MessageType.App, from: A, to: B, term, index, logTerm, commit, commitOnly: true }));
    return core;
  }

  it("a follower answers a commit-only append that does not match its log with a rejection", () => {
    const core = followerAfterCommitOnly(2, 3, 2, 3);
    expect(core.ready().messages).toMatchObject([
      { type: MessageType.AppResp, to: A, reject: true, index: 3 },
    ]);
    expect(core.status().commit).toBe(1);
  });

  it("a follower that accepts a commit-only append advances its commit index and sends nothing", () => {
    const core = followerAfterCommitOnly(1, 2, 1, 2);
    const rd = core.ready();
    expect(rd.messages).toEqual([]);
    expect(rd.committedEntries.at(-1)?.index).toBe(2);
    expect(core.status().commit).toBe(2);
  });
});

describe("proposals", () => {
  it("a follower forwards proposals to the leader (MsgProp)", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.core(B).propose([bytes("from-b")]);
    const out = net.handleReady(B);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: MessageType.Prop, from: B, to: A });
    net.stabilize();
    for (const id of ids(3)) expect(net.appliedData(id)).toEqual(["from-b"]);
  });

  it("a proposal without a known leader throws no_leader and is dropped", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] });
    expect(() => core.propose([bytes("x")])).toThrow(CairnError);
    try {
      core.propose([bytes("x")]);
    } catch (err) {
      expect((err as CairnError).code).toBe("no_leader");
    }
    core.campaign(); // candidate: still no leader
    expect(() => core.propose([bytes("x")])).toThrow(/no leader/);
    expect(core.status().lastIndex).toBe(0);
  });

  it("a forwarded proposal reaching a member without a leader is dropped", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] });
    core.step(
      msg({
        type: MessageType.Prop,
        from: B,
        to: A,
        entries: [{ term: 0, index: 0, type: 0, data: bytes("x") }],
      }),
    );
    expect(core.status().lastIndex).toBe(0);
    expect(core.hasReady()).toBe(false);
  });

  it("entries are applied in log order on every member", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.propose(A, "1", "2");
    net.propose(B, "3");
    net.propose(C, "4", "5");
    for (const id of ids(3)) expect(net.appliedData(id)).toEqual(["1", "2", "3", "4", "5"]);
    // Applied indexes are contiguous.
    for (const id of ids(3)) {
      const idx = net.node(id).applied.map((e) => e.index);
      expect(idx).toEqual(Array.from({ length: idx.length }, (_, i) => i + 1));
    }
  });
});
