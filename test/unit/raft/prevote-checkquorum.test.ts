/**
 * PreVote (Raft thesis §9.6) and CheckQuorum / leader lease (thesis §6.2, §4.2.3), both behind
 * config flags.
 */
import { describe, expect, it } from "vitest";
import { type Message, MessageType } from "../../../src/raft/types.ts";
import { entries, ids, makeCore, Network } from "./network.ts";

const [A, B, C] = ids(3) as [string, string, string];

function msg(fields: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return { term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...fields };
}

describe("PreVote (thesis §9.6)", () => {
  it("a pre-candidate asks for the next term without changing its term or vote", () => {
    const core = makeCore(A, { voters: [A, B, C], learners: [] }, { preVote: true });
    core.campaign();
    expect(core.status()).toMatchObject({ role: "pre-candidate", term: 0, vote: "" });
    const rd = core.ready();
    expect(rd.hardState).toBeUndefined();
    expect(rd.messages.map((m) => [m.type, m.to, m.term])).toEqual([
      [MessageType.PreVote, B, 1],
      [MessageType.PreVote, C, 1],
    ]);
  });

  it("elects a leader through a pre-election then an election", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { preVote: true });
    net.elect(A);
    expect(net.core(A).status()).toMatchObject({ role: "leader", term: 1 });
    const types = new Set(net.log.map((m) => m.type));
    expect(types.has(MessageType.PreVote)).toBe(true);
    expect(types.has(MessageType.Vote)).toBe(true);
  });

  it("a receiver neither changes its term nor records a vote for a PreVote", () => {
    const core = makeCore(B, { voters: [A, B, C], learners: [] }, { preVote: true });
    core.step(msg({ type: MessageType.PreVote, from: A, to: B, term: 5 }));
    expect(core.status()).toMatchObject({ term: 0, vote: "" });
    const rd = core.ready();
    expect(rd.messages[0]).toMatchObject({ type: MessageType.PreVoteResp, reject: false, term: 5 });
    expect(rd.hardState).toBeUndefined();
  });

  it("a PreVote from a stale log is rejected and the pre-candidate stays at its term", () => {
    const net = new Network({ voters: ids(3), learners: [] }, (id) => ({
      preVote: true,
      initial: { entries: entries(id === A ? [1] : [1, 1]), hardState: { term: 1, vote: "", commit: 1 } },
    }));
    net.elect(A);
    expect(net.core(A).status()).toMatchObject({ role: "follower", term: 1 });
    for (const id of ids(3)) expect(net.core(id).status().term).toBe(1);
  });

  it("a partitioned member does not raise its term, so it does not disrupt the leader when it returns", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { preVote: true });
    net.elect(A);
    net.isolate(C);
    for (let i = 0; i < 100; i++) {
      net.tick(C);
      net.handleReady(C);
    }
    expect(net.core(C).status().term).toBe(1);
    net.heal();
    net.tickAll(5);
    expect(net.core(A).status()).toMatchObject({ role: "leader", term: 1 });
    expect(net.core(C).status()).toMatchObject({ leader: A, term: 1 });
  });

  it("without PreVote the same partition disrupts the leader (contrast)", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.isolate(C);
    for (let i = 0; i < 100; i++) {
      net.tick(C);
      net.handleReady(C);
    }
    expect(net.core(C).status().term).toBeGreaterThan(1);
    net.heal();
    net.tickAll(40);
    expect(net.core(A).status().term).toBeGreaterThan(1);
  });

  it("a lower-term PreVote is rejected with our term", () => {
    const core = makeCore(
      B,
      { voters: [A, B, C], learners: [] },
      {
        preVote: true,
        initial: { hardState: { term: 4, vote: "", commit: 0 } },
      },
    );
    core.step(msg({ type: MessageType.PreVote, from: A, to: B, term: 2 }));
    expect(core.ready().messages[0]).toMatchObject({ type: MessageType.PreVoteResp, reject: true, term: 4 });
  });
});

describe("CheckQuorum (thesis §6.2)", () => {
  it("a leader that hears from no quorum for an election timeout steps down", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { checkQuorum: true });
    net.elect(A);
    net.isolate(A);
    for (let i = 0; i < 2 * 10 + 1 && net.core(A).status().role === "leader"; i++) {
      net.tick(A);
      net.handleReady(A);
    }
    expect(net.core(A).status()).toMatchObject({ role: "follower", leader: "", term: 1 });
  });

  it("a leader that hears from a quorum stays leader", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { checkQuorum: true });
    net.elect(A);
    net.isolate(C);
    for (let i = 0; i < 50; i++) {
      net.tick(A);
      net.stabilize();
    }
    expect(net.core(A).status().role).toBe("leader");
  });

  it("without CheckQuorum an isolated leader keeps believing it leads (contrast)", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.isolate(A);
    for (let i = 0; i < 50; i++) net.tick(A);
    expect(net.core(A).status().role).toBe("leader");
  });

  it("a follower within the leader lease ignores vote requests of higher terms (§4.2.3)", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { checkQuorum: true });
    net.elect(A);
    net.core(B).step(msg({ type: MessageType.Vote, from: C, to: B, term: 5, index: 9, logTerm: 9 }));
    expect(net.core(B).status()).toMatchObject({ term: 1, leader: A, vote: A });
    expect(net.handleReady(B, false)).toEqual([]);
    // After an election timeout without the leader, the vote is considered.
    net.isolate(A);
    net.tick(B, 10);
    net.core(B).step(msg({ type: MessageType.Vote, from: C, to: B, term: 5, index: 9, logTerm: 9 }));
    expect(net.core(B).status()).toMatchObject({ term: 5, vote: C });
  });

  it("a member of a higher term answers a stale leader's heartbeat so that it steps down", () => {
    const core = makeCore(
      B,
      { voters: [A, B, C], learners: [] },
      {
        checkQuorum: true,
        initial: { hardState: { term: 3, vote: "", commit: 0 } },
      },
    );
    core.step(msg({ type: MessageType.Heartbeat, from: A, to: B, term: 2 }));
    const resp = core.ready().messages[0];
    expect(resp).toMatchObject({ type: MessageType.AppResp, to: A, term: 3 });
    const leader = makeCore(A, { voters: [A, B, C], learners: [] }, { checkQuorum: true });
    leader.campaign();
    leader.step(msg({ type: MessageType.VoteResp, from: C, to: A, term: 1 }));
    expect(leader.status().role).toBe("leader");
    leader.step({ ...resp!, term: 3 });
    expect(leader.status()).toMatchObject({ role: "follower", term: 3 });
  });
});

describe("CheckQuorum within one election timeout (issue 3 §1)", () => {
  it("an isolated leader steps down at most electionTick + 1 ticks after it last heard from a quorum", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { preVote: true, checkQuorum: true });
    net.elect(A);
    // Heartbeat rounds keep it leader for many election timeouts.
    for (let i = 0; i < 30; i++) net.tickAll(1);
    expect(net.core(A).status().role).toBe("leader");
    // Cut right after a round of answers: count ticks until it steps down.
    net.isolate(A);
    let ticks = 0;
    while (net.core(A).status().role === "leader" && ticks < 100) {
      net.tick(A);
      net.stabilize();
      ticks++;
    }
    expect(net.core(A).status().role).toBe("follower");
    expect(ticks).toBeLessThanOrEqual(10 + 1); // electionTick is 10 in these tests
  });
});
