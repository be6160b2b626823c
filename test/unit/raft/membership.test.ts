/**
 * Single-member configuration changes (Raft thesis §4.1; etcd-io/raft ConfChange): applied when
 * the entry is applied, one at a time, learners that replicate without voting, promotion, removal
 * (a removed leader steps down), and the new quorum taking effect for commitment and elections.
 */
import { describe, expect, it } from "vitest";
import { applyToConfState } from "../../../src/raft/conf-change.ts";
import { type ConfChange, ConfChangeType, MessageType } from "../../../src/raft/types.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { ids, MemoryLog, makeCore, Network } from "./network.ts";

const [A, B, C, D, E] = ids(5) as [string, string, string, string, string];
const ctx = new Uint8Array(0);
const add = (nodeId: string): ConfChange => ({ type: ConfChangeType.AddNode, nodeId, context: ctx });
const addLearner = (nodeId: string): ConfChange => ({
  type: ConfChangeType.AddLearnerNode,
  nodeId,
  context: ctx,
});
const remove = (nodeId: string): ConfChange => ({ type: ConfChangeType.RemoveNode, nodeId, context: ctx });

/** A three-voter network with A leading, plus an idle new node `id` that starts empty and knows only itself. */
function withNewNode(id: string): Network {
  const net = new Network({ voters: [A, B, C], learners: [] });
  net.elect(A);
  net.propose(A, "x");
  // A joining member starts with no log and an empty configuration of its own (etcd: join existing).
  net.add(id, makeCore(id, { voters: [A, B, C], learners: [] }), new MemoryLog());
  return net;
}

describe("applyToConfState", () => {
  const conf = { voters: [A, B, C], learners: [D] };
  it.each([
    ["adds a voter", add(E), { voters: [A, B, C, E], learners: [D] }],
    ["adds a learner", addLearner(E), { voters: [A, B, C], learners: [D, E] }],
    ["promotes a learner", add(D), { voters: [A, B, C, D], learners: [] }],
    ["removes a voter", remove(B), { voters: [A, C], learners: [D] }],
    ["removes a learner", remove(D), { voters: [A, B, C], learners: [] }],
    ["ignores removing an absent member", remove(E), conf],
    ["does not demote a voter", addLearner(A), conf],
  ] as const)("%s", (_, cc, want) => {
    expect(applyToConfState(conf, cc)).toEqual(want);
  });

  it("refuses to remove the last voter", () => {
    expect(() => applyToConfState({ voters: [A], learners: [] }, remove(A))).toThrow(/no voter/);
  });
});

describe("membership changes through the log (thesis §4.1)", () => {
  it("adds a voter: it catches up and the quorum grows", () => {
    const net = withNewNode(D);
    net.core(A).proposeConfChange(add(D));
    net.stabilize();
    for (const id of [A, B, C, D]) expect(net.core(id).status().confState.voters).toEqual([A, B, C, D]);
    expect(net.appliedData(D)).toEqual(["x"]);
    // With 4 voters a quorum is 3: A and D alone cannot commit.
    net.isolate(B);
    net.isolate(C);
    net.propose(A, "y");
    expect(net.core(A).status().commit).toBeLessThan(net.core(A).status().lastIndex);
    net.heal();
    net.tickAll(1);
    expect(net.appliedData(D)).toEqual(["x", "y"]);
  });

  it("a learner receives entries but never counts for commitment or votes", () => {
    const net = withNewNode(D);
    net.core(A).proposeConfChange(addLearner(D));
    net.stabilize();
    expect(net.core(A).status().confState).toEqual({ voters: [A, B, C], learners: [D] });
    net.propose(A, "y");
    expect(net.appliedData(D)).toEqual(["x", "y"]);
    // A + learner D is not a quorum of {A,B,C}.
    net.isolate(B);
    net.isolate(C);
    net.propose(A, "z");
    const st = net.core(A).status();
    expect(st.commit).toBeLessThan(st.lastIndex);
    // A learner never campaigns.
    net.heal();
    net.core(D).campaign();
    net.stabilize();
    expect(net.log.some((m) => m.type === MessageType.Vote && m.from === D)).toBe(false);
  });

  it("promotes a caught-up learner, keeping its progress", () => {
    const net = withNewNode(D);
    net.core(A).proposeConfChange(addLearner(D));
    net.stabilize();
    net.core(A).proposeConfChange(add(D));
    net.stabilize();
    expect(net.core(D).status().confState).toEqual({ voters: [A, B, C, D], learners: [] });
    expect(net.core(A).status().progress?.get(D)?.match).toBe(net.core(A).status().lastIndex);
  });

  it("removes a follower: the smaller quorum commits without it", () => {
    const net = new Network({ voters: [A, B, C], learners: [] });
    net.elect(A);
    net.core(A).proposeConfChange(remove(C));
    net.stabilize();
    expect(net.core(A).status().confState.voters).toEqual([A, B]);
    net.isolate(C);
    net.propose(A, "y");
    expect(net.appliedData(B)).toEqual(["y"]);
  });

  it("a removed leader steps down once the change is applied, and the others elect a leader", () => {
    const net = new Network({ voters: [A, B, C], learners: [] });
    net.elect(A);
    net.core(A).proposeConfChange(remove(A));
    net.stabilize();
    expect(net.core(A).status().role).toBe("follower");
    expect(net.core(B).status().confState.voters).toEqual([B, C]);
    net.isolate(A);
    net.elect(B);
    expect(net.core(B).status().role).toBe("leader");
    net.propose(B, "after");
    expect(net.appliedData(C)).toEqual(["after"]);
  });

  it("accepts one change at a time on the leader", () => {
    const net = withNewNode(D);
    net.isolate(B);
    net.isolate(C);
    net.core(A).proposeConfChange(add(D));
    net.stabilize(); // not committed: B and C are cut off
    let err: unknown;
    try {
      net.core(A).proposeConfChange(add(E));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CairnError);
    expect((err as CairnError).code).toBe("conf_change_pending");
    net.heal();
    net.tickAll(1);
    net.stabilize();
    expect(() => net.core(A).proposeConfChange(addLearner(E))).not.toThrow();
  });

  it("a new leader takes no change until the first entry of its term is applied", () => {
    const net = new Network({ voters: [A, B, C], learners: [] });
    net.core(A).campaign();
    // Won the election, but its no-op is not yet replicated.
    for (let i = 0; i < 3; i++) {
      net.handleReady(A);
      net.deliver(net.queue.splice(0));
      for (const id of [B, C]) net.handleReady(id);
      net.deliver(net.queue.filter((m) => m.type !== MessageType.AppResp));
      net.queue = [];
    }
    expect(net.core(A).status().role).toBe("leader");
    expect(() => net.core(A).proposeConfChange(add(D))).toThrow(/not applied yet/);
  });

  it("a second change forwarded to the leader while one is pending becomes an empty entry", () => {
    const net = withNewNode(D);
    net.isolate(C);
    net.cut(A, B);
    net.core(A).proposeConfChange(add(D)); // pending on A: B cannot ack it
    net.stabilize();
    net.heal();
    net.isolate(C);
    // B forwards another change before A applied the first.
    net.core(B).proposeConfChange(add(E));
    net.deliver(net.handleReady(B, false));
    net.stabilize();
    const confChangesCommitted = net.node(A).confStates.length;
    expect(confChangesCommitted).toBe(1);
    expect(net.core(A).status().confState.voters).toEqual([A, B, C, D]);
  });

  it("the configuration is kept in snapshots and restored on restart", () => {
    const net = withNewNode(D);
    net.core(A).proposeConfChange(add(D));
    net.stabilize();
    const snap = net.compact(A);
    expect(snap.metadata.confState.voters).toEqual([A, B, C, D]);
  });
});
