/**
 * Leadership transfer (Raft thesis §3.10; etcd-io/raft MsgTransferLeader / MsgTimeoutNow): the
 * leader stops taking proposals, brings the transferee up to date, and tells it to campaign at once;
 * the transfer is abandoned after an election timeout; learners and unknown members are refused.
 */
import { describe, expect, it } from "vitest";
import { MessageType } from "../../../src/raft/types.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { ids, Network } from "./network.ts";

const [A, B, C] = ids(3) as [string, string, string];

function cluster(opts: { preVote?: boolean; checkQuorum?: boolean } = {}): Network {
  const net = new Network({ voters: [A, B, C], learners: [] }, opts);
  net.elect(A);
  net.propose(A, "x");
  return net;
}

describe("leadership transfer (thesis §3.10)", () => {
  for (const flags of [{}, { preVote: true, checkQuorum: true }]) {
    it(`hands leadership to an up-to-date follower at once (${JSON.stringify(flags)})`, () => {
      const net = cluster(flags);
      net.core(A).transferLeader(B);
      net.stabilize();
      expect(net.core(B).status()).toMatchObject({ role: "leader", term: 2 });
      expect(net.core(A).status()).toMatchObject({ role: "follower", leader: B, term: 2 });
      expect(net.core(C).status().leader).toBe(B);
      // The transferee campaigned without a PreVote round, with the transfer context.
      const votes = net.log.filter((m) => m.type === MessageType.Vote && m.from === B);
      expect(votes.length).toBe(2);
      expect(net.log.some((m) => m.type === MessageType.PreVote && m.from === B)).toBe(false);
      // Nothing committed is lost and the new leader commits new entries.
      net.propose(B, "y");
      for (const id of [A, B, C]) expect(net.appliedData(id)).toEqual(["x", "y"]);
    });
  }

  it("catches a lagging transferee up before MsgTimeoutNow", () => {
    const net = cluster();
    net.isolate(C);
    net.propose(A, "a", "b", "c");
    net.heal();
    net.core(A).transferLeader(C);
    net.stabilize();
    expect(net.core(C).status().role).toBe("leader");
    const timeoutNow = net.log.findIndex((m) => m.type === MessageType.TimeoutNow);
    const lastAppToC = net.log.findLastIndex((m) => m.type === MessageType.App && m.to === C && m.term === 1);
    expect(timeoutNow).toBeGreaterThan(lastAppToC);
    expect(net.appliedData(C)).toEqual(["x", "a", "b", "c"]);
  });

  it("is forwarded by a follower to the leader", () => {
    const net = cluster();
    net.core(C).transferLeader(B);
    net.stabilize();
    expect(net.core(B).status().role).toBe("leader");
    const fwd = net.log.find((m) => m.type === MessageType.TransferLeader);
    expect(fwd).toMatchObject({ from: C, to: A, term: 0 });
  });

  it("refuses proposals while transferring and resumes after the transfer is abandoned", () => {
    const net = cluster();
    net.isolate(B);
    net.core(A).transferLeader(B);
    net.stabilize();
    expect(net.core(A).leadTransferee).toBe(B);
    expect(() => net.core(A).propose([new Uint8Array([1])])).toThrow(CairnError);
    try {
      net.core(A).propose([new Uint8Array([1])]);
    } catch (err) {
      expect((err as CairnError).code).toBe("leader_transferring");
      expect((err as CairnError).retryable).toBe(true);
    }
    // One election timeout (electionTick 10) later the transfer is given up.
    for (let i = 0; i < 10; i++) {
      net.tick(A);
      net.tick(C);
      net.stabilize();
    }
    expect(net.core(A).leadTransferee).toBe("");
    expect(net.core(A).status().role).toBe("leader");
    net.propose(A, "after");
    expect(net.appliedData(C)).toEqual(["x", "after"]);
  });

  it("ignores a transfer to a learner, to itself or to an unknown member", () => {
    const L = ids(4)[3]!;
    const net = new Network({ voters: [A, B, C], learners: [L] });
    net.elect(A);
    for (const target of [L, A, "00000000000000ff"]) {
      net.core(A).transferLeader(target);
      net.stabilize();
      expect(net.core(A).leadTransferee).toBe("");
      expect(net.core(A).status()).toMatchObject({ role: "leader", term: 1 });
    }
  });

  it("a transfer campaign wins even where followers hold a leader lease (CheckQuorum)", () => {
    const net = cluster({ preVote: true, checkQuorum: true });
    // B and C heard from A within the election timeout: an ordinary vote request would be ignored.
    net.core(A).transferLeader(C);
    net.stabilize();
    expect(net.core(C).status().role).toBe("leader");
  });

  it("asked again for another member, the leader switches to the new transferee", () => {
    const net = cluster();
    net.isolate(B);
    net.core(A).transferLeader(B);
    net.stabilize();
    expect(net.core(A).leadTransferee).toBe(B);
    net.core(A).transferLeader(C);
    net.stabilize();
    expect(net.core(C).status().role).toBe("leader");
  });
});
