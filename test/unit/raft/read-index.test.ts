/**
 * ReadIndex (Raft thesis §6.4): linearizable reads without appending to the log.
 */
import { describe, expect, it } from "vitest";
import { MessageType } from "../../../src/raft/types.ts";
import { CairnError } from "../../../src/util/errors.ts";
import { bytes, entries, ids, makeCore, Network, nid, text } from "./network.ts";

const [A, B, C, D, E] = ids(5) as [string, string, string, string, string];

function readStates(net: Network, id: string): { index: number; ctx: string }[] {
  return net.node(id).readStates.map((rs) => ({ index: rs.index, ctx: text(rs.requestCtx) }));
}

describe("ReadIndex on the leader (§6.4)", () => {
  it("answers with the commit index after a quorum acknowledges a heartbeat carrying the context", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.propose(A, "x");
    net.core(A).readIndex(bytes("r1"));
    const out = net.handleReady(A, false);
    const hbs = out.filter((m) => m.type === MessageType.Heartbeat);
    expect(hbs.map((m) => m.to).sort()).toEqual([B, C]);
    for (const hb of hbs) expect(text(hb.context!)).toBe("r1");
    expect(readStates(net, A)).toEqual([]);
    net.deliver(hbs);
    net.stabilize();
    expect(readStates(net, A)).toEqual([{ index: 2, ctx: "r1" }]);
  });

  it("is answered with one acknowledgement in a 3-member cluster, not with none", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.isolate(B);
    net.isolate(C);
    net.core(A).readIndex(bytes("r"));
    net.stabilize();
    net.tickAll(5);
    expect(readStates(net, A)).toEqual([]);
    net.heal();
    net.isolate(C);
    net.tickAll(1);
    expect(readStates(net, A)).toEqual([{ index: 1, ctx: "r" }]);
  });

  it("is not answered without a quorum of voters (5 members, 1 follower reachable; a learner does not count)", () => {
    const L = nid(9);
    const net = new Network({ voters: ids(5), learners: [L] });
    net.elect(A);
    for (const id of [C, D, E]) net.isolate(id);
    net.core(A).readIndex(bytes("r"));
    net.stabilize();
    net.tickAll(5);
    expect(readStates(net, A)).toEqual([]);
    net.heal();
    for (const id of [D, E]) net.isolate(id);
    net.tickAll(1);
    expect(readStates(net, A)).toEqual([{ index: 1, ctx: "r" }]);
  });

  it("batches pending requests into one heartbeat round and answers them all", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    for (const ctx of ["a", "b", "c"]) net.core(A).readIndex(bytes(ctx));
    const out = net.handleReady(A, false);
    const hbs = out.filter((m) => m.type === MessageType.Heartbeat);
    expect(hbs).toHaveLength(2); // one round to B and C, not three
    net.deliver(hbs);
    net.stabilize();
    expect(readStates(net, A)).toEqual([
      { index: 1, ctx: "a" },
      { index: 1, ctx: "b" },
      { index: 1, ctx: "c" },
    ]);
  });

  it("a later round's quorum also answers earlier requests whose heartbeats were lost", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.core(A).readIndex(bytes("first"));
    net.handleReady(A, false); // heartbeats of round "first" lost
    net.core(A).readIndex(bytes("second"));
    net.stabilize();
    expect(readStates(net, A)).toEqual([
      { index: 1, ctx: "first" },
      { index: 1, ctx: "second" },
    ]);
  });

  it("records the commit index at the time of the request", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.core(A).readIndex(bytes("r"));
    const hbs = net.handleReady(A, false).filter((m) => m.type === MessageType.Heartbeat);
    net.propose(A, "later"); // commits index 2 before the heartbeat round completes
    net.deliver(hbs);
    net.stabilize();
    expect(readStates(net, A)).toEqual([{ index: 1, ctx: "r" }]);
  });

  it("a new leader waits until an entry of its own term is committed (§6.4 step 1)", () => {
    // A has an uncommitted entry from term 1 on a majority; as leader of term 2 its commit index
    // may be stale until its no-op commits.
    const net = new Network({ voters: ids(3), learners: [] }, (_id) => ({
      initial: { entries: entries([1, 1]), hardState: { term: 1, vote: "", commit: 1 } },
    }));
    net.drop((m) => m.type === MessageType.App && m.entries.length > 0);
    net.elect(A);
    expect(net.core(A).status()).toMatchObject({ role: "leader", term: 2, commit: 1 });
    net.core(A).readIndex(bytes("r"));
    net.stabilize();
    net.tickAll(3);
    expect(readStates(net, A)).toEqual([]);
    expect(net.log.some((m) => m.type === MessageType.Heartbeat && m.context)).toBe(false);
    net.heal();
    net.tickAll(2);
    expect(net.core(A).status().commit).toBe(3);
    expect(readStates(net, A)).toEqual([{ index: 3, ctx: "r" }]);
  });

  it("a single-voter leader answers at once once its term's entry is committed", () => {
    const core = makeCore(A, { voters: [A], learners: [] });
    core.campaign();
    // The no-op is not yet durable: the read waits.
    core.readIndex(bytes("early"));
    let rd = core.ready();
    expect(rd.readStates).toEqual([]);
    core.advance(rd);
    rd = core.ready(); // commit advanced: the waiting read is answered
    expect(rd.readStates.map((r) => [r.index, text(r.requestCtx)])).toEqual([[1, "early"]]);
    core.advance(rd);
    core.readIndex(bytes("now"));
    rd = core.ready();
    expect(rd.readStates.map((r) => [r.index, text(r.requestCtx)])).toEqual([[1, "now"]]);
    expect(rd.messages).toEqual([]);
    core.advance(rd);
  });

  it("pending requests are dropped when the leader steps down", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.core(A).readIndex(bytes("r"));
    const hbs = net.handleReady(A, false).filter((m) => m.type === MessageType.Heartbeat);
    net.elect(B); // A steps down
    // The heartbeat responses of the old term are ignored.
    net.deliver(hbs);
    net.stabilize();
    expect(readStates(net, A)).toEqual([]);
  });
});

describe("ReadIndex on a follower (§6.4)", () => {
  it("forwards to the leader and gets the read index back", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.propose(A, "x");
    net.core(B).readIndex(bytes("fr"));
    const out = net.handleReady(B);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: MessageType.ReadIndex, from: B, to: A });
    net.stabilize();
    expect(readStates(net, B)).toEqual([{ index: 2, ctx: "fr" }]);
    expect(readStates(net, A)).toEqual([]);
    expect(net.log.some((m) => m.type === MessageType.ReadIndexResp && m.to === B && m.index === 2)).toBe(
      true,
    );
  });

  it("a learner's read is answered too", () => {
    const L = nid(9);
    const net = new Network({ voters: ids(3), learners: [L] });
    net.elect(A);
    net.core(L).readIndex(bytes("lr"));
    net.stabilize();
    expect(readStates(net, L)).toEqual([{ index: 1, ctx: "lr" }]);
  });

  it("is not answered while the leader has no quorum", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.cut(A, C);
    net.drop((m) => m.type === MessageType.HeartbeatResp && m.from === B);
    net.core(B).readIndex(bytes("fr"));
    net.stabilize();
    net.tickAll(3);
    expect(readStates(net, B)).toEqual([]);
  });

  it("throws no_leader when no leader is known", () => {
    const core = makeCore(B, { voters: [A, B, C], learners: [] });
    let err: unknown;
    try {
      core.readIndex(bytes("x"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CairnError);
    expect((err as CairnError).code).toBe("no_leader");
  });
});
