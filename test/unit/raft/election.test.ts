/**
 * Leader election (Raft paper §5.2), election restriction (§5.4.1), term rules (§5.1).
 */
import { describe, expect, it } from "vitest";
import { RaftCore } from "../../../src/raft/core.ts";
import { type Message, MessageType } from "../../../src/raft/types.ts";
import { entries, ids, makeCore, Network, nid } from "./network.ts";

const [A, B, C] = ids(3) as [string, string, string];

function msg(fields: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return { term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...fields };
}

describe("leader election (§5.2)", () => {
  it("a follower campaigns after its randomized election timeout and wins with a majority", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    // Tick only A: it must campaign within [electionTick, 2*electionTick) ticks.
    let ticks = 0;
    while (net.core(A).status().role === "follower" && ticks < 20) {
      net.tick(A);
      ticks++;
    }
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(ticks).toBeLessThan(20);
    expect(net.core(A).status().role).toBe("candidate");
    net.stabilize();
    expect(net.core(A).status()).toMatchObject({ role: "leader", term: 1, leader: A });
    expect(net.core(B).status()).toMatchObject({ role: "follower", term: 1, leader: A });
    expect(net.core(C).status()).toMatchObject({ role: "follower", term: 1, leader: A });
  });

  it("randomized election timeouts lie in [electionTick, 2*electionTick) (§5.2)", () => {
    for (const r of [0, 0.25, 0.5, 0.999]) {
      const core = makeCore(A, { voters: [A, B, C], learners: [] }, { random: () => r, electionTick: 10 });
      let ticks = 0;
      while (core.status().role === "follower" && ticks < 40) {
        core.tick();
        ticks++;
      }
      expect(ticks).toBe(10 + Math.floor(r * 10));
    }
  });

  it("elects exactly one leader when everyone ticks", () => {
    const net = new Network({ voters: ids(5), learners: [] });
    net.tickAll(40);
    const leaders = [...net.nodes.values()].filter((n) => n.core.status().role === "leader");
    expect(leaders).toHaveLength(1);
    const lead = leaders[0]!.id;
    for (const n of net.nodes.values()) expect(n.core.status().leader).toBe(lead);
  });

  it("a single voter elects itself at once", () => {
    const core = makeCore(A, { voters: [A], learners: [] });
    core.campaign();
    expect(core.status().role).toBe("leader");
    expect(core.status().term).toBe(1);
  });

  it("a candidate that gets a majority of rejections steps down (§5.2)", () => {
    const net = new Network({ voters: ids(3), learners: [] }, (id) =>
      id === A ? {} : { initial: { entries: entries([1, 1]), hardState: { term: 1, vote: "", commit: 0 } } },
    );
    net.elect(A); // A's log is empty: B and C reject (§5.4.1).
    expect(net.core(A).status().role).toBe("follower");
    expect(net.core(A).status().term).toBe(1);
  });

  it("a candidate that hears from a leader of its term becomes follower (§5.2)", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] });
    core.campaign();
    expect(core.status().role).toBe("candidate");
    core.step(msg({ type: MessageType.Heartbeat, from: B, to: A, term: 1 }));
    expect(core.status()).toMatchObject({ role: "follower", leader: B, term: 1 });
  });
});

describe("one vote per term (§5.2)", () => {
  it("grants one vote per term, repeats it to the same candidate, refuses others", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] });
    const vote = (from: string) => {
      core.step(msg({ type: MessageType.Vote, from, to: A, term: 1 }));
      const rd = core.ready();
      core.advance(rd);
      const resp = rd.messages.find((m) => m.type === MessageType.VoteResp);
      return { resp, hardState: rd.hardState };
    };
    const first = vote(B);
    expect(first.resp).toMatchObject({ to: B, reject: false, term: 1 });
    // The vote is in the hard state of the same Ready: persisted before the response leaves.
    expect(first.hardState).toEqual({ term: 1, vote: B, commit: 0 });
    expect(vote(C).resp).toMatchObject({ to: C, reject: true });
    expect(vote(B).resp).toMatchObject({ to: B, reject: false });
    expect(core.status().vote).toBe(B);
  });

  it("a restarted member remembers its vote", () => {
    const core = new RaftCore(
      { id: A, electionTick: 10, heartbeatTick: 1, random: () => 0 },
      {
        hardState: { term: 1, vote: B, commit: 0 },
        snapshot: null,
        entries: [],
        confState: { voters: [A, B, C], learners: [] },
        applied: 0,
      },
    );
    core.step(msg({ type: MessageType.Vote, from: C, to: A, term: 1 }));
    const rd = core.ready();
    expect(rd.messages[0]).toMatchObject({ type: MessageType.VoteResp, to: C, reject: true });
  });

  it("a vote for a higher term is granted after moving to that term", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] });
    core.step(msg({ type: MessageType.Vote, from: B, to: A, term: 1 }));
    core.step(msg({ type: MessageType.Vote, from: C, to: A, term: 2 }));
    const rd = core.ready();
    expect(rd.messages.map((m) => [m.to, m.reject, m.term])).toEqual([
      [B, false, 1],
      [C, false, 2],
    ]);
    expect(rd.hardState).toEqual({ term: 2, vote: C, commit: 0 });
  });
});

describe("election restriction (§5.4.1)", () => {
  // Voter's log has last (index 2, term 2): entries of terms [1, 2].
  const cases: { name: string; lastIndex: number; lastTerm: number; grant: boolean }[] = [
    { name: "higher last term, shorter log", lastIndex: 1, lastTerm: 3, grant: true },
    { name: "same last term, longer log", lastIndex: 3, lastTerm: 2, grant: true },
    { name: "same last term, same length", lastIndex: 2, lastTerm: 2, grant: true },
    { name: "same last term, shorter log", lastIndex: 1, lastTerm: 2, grant: false },
    { name: "lower last term, longer log", lastIndex: 5, lastTerm: 1, grant: false },
    { name: "empty log", lastIndex: 0, lastTerm: 0, grant: false },
  ];
  for (const c of cases) {
    it(`${c.grant ? "grants" : "rejects"} a candidate with ${c.name}`, () => {
      const core = makeCore(
        A,
        { voters: [A, B, C], learners: [] },
        {
          initial: { entries: entries([1, 2]), hardState: { term: 2, vote: "", commit: 0 } },
        },
      );
      core.step(
        msg({ type: MessageType.Vote, from: B, to: A, term: 3, index: c.lastIndex, logTerm: c.lastTerm }),
      );
      const resp = core.ready().messages.find((m) => m.type === MessageType.VoteResp);
      expect(resp?.reject).toBe(!c.grant);
      expect(core.status().vote).toBe(c.grant ? B : "");
    });
  }

  it("a member with a stale log cannot be elected, one with the newest can (leader completeness, §5.4)", () => {
    // A, B have a committed entry of term 2 at index 2; C only has index 1.
    const net = new Network({ voters: ids(3), learners: [] }, (id) => ({
      initial: {
        entries: entries(id === C ? [1] : [1, 2]),
        hardState: { term: 2, vote: "", commit: id === C ? 1 : 2 },
      },
    }));
    net.elect(C);
    expect(net.core(C).status().role).not.toBe("leader");
    net.elect(B);
    expect(net.core(B).status().role).toBe("leader");
    // The new leader holds the committed entry and gives it to C.
    expect(net.core(C).logTerm(2)).toBe(2);
  });
});

describe("term rules (§5.1)", () => {
  const higherTermTypes = [
    MessageType.App,
    MessageType.Heartbeat,
    MessageType.Vote,
    MessageType.AppResp,
    MessageType.HeartbeatResp,
    MessageType.VoteResp,
  ];
  for (const type of higherTermTypes) {
    it(`a leader that receives ${type} of a higher term steps down`, () => {
      const net = new Network({ voters: ids(3), learners: [] });
      net.elect(A);
      expect(net.core(A).status()).toMatchObject({ role: "leader", term: 1 });
      net.core(A).step(msg({ type, from: B, to: A, term: 5 }));
      const st = net.core(A).status();
      expect(st.role).toBe("follower");
      expect(st.term).toBe(5);
      const fromLeader = type === MessageType.App || type === MessageType.Heartbeat;
      expect(st.leader).toBe(fromLeader ? B : "");
    });
  }

  it("a candidate that receives an append of a higher term becomes follower of its sender", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] });
    core.campaign();
    core.step(msg({ type: MessageType.App, from: C, to: A, term: 3 }));
    expect(core.status()).toMatchObject({ role: "follower", term: 3, leader: C });
  });

  it("messages of a lower term are ignored", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.elect(B); // term 2, B leads
    const before = net.core(A).status();
    net.core(A).step(msg({ type: MessageType.App, from: C, to: A, term: 1, entries: entries([1], 2) }));
    net.core(A).step(msg({ type: MessageType.Vote, from: C, to: A, term: 1 }));
    expect(net.core(A).status()).toEqual(before);
    expect(net.core(A).ready().messages).toEqual([]);
  });

  it("hard state in the same Ready as the message that depends on it", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] });
    core.campaign();
    const rd = core.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: A, commit: 0 });
    expect(rd.messages.filter((m) => m.type === MessageType.Vote).map((m) => m.to)).toEqual([B, C]);
  });
});

describe("learners", () => {
  const L = nid(9);
  it("never campaign", () => {
    const core = makeCore(L, { voters: [A, B, C], learners: [L] });
    for (let i = 0; i < 100; i++) core.tick();
    core.campaign();
    expect(core.status().role).toBe("follower");
    expect(core.hasReady()).toBe(false);
  });

  it("do not count toward an election", () => {
    const net = new Network({ voters: ids(3), learners: [L] });
    net.cut(A, B);
    net.cut(A, C);
    net.core(A).campaign();
    // A's vote request goes only to voters; even if the learner were asked, its vote would not count.
    const out = net.handleReady(A, false);
    expect(out.map((m) => m.to).sort()).toEqual([B, C]);
    net.core(A).step(msg({ type: MessageType.VoteResp, from: L, to: A, term: 1 }));
    expect(net.core(A).status().role).toBe("candidate");
  });

  it("receive entries from the leader but do not count toward commitment", () => {
    const net = new Network({ voters: [A, B], learners: [L] });
    net.elect(A);
    net.isolate(B);
    net.propose(A, "x");
    // Only the leader and the learner have "x": not a quorum of voters {A, B}.
    expect(net.core(L).status().lastIndex).toBe(2);
    expect(net.core(A).status().commit).toBe(1);
    net.heal();
    net.tickAll(2);
    expect(net.core(A).status().commit).toBe(2);
    expect(net.appliedData(L)).toEqual(["x"]);
  });
});
