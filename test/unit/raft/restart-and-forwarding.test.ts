/**
 * Regressions found by the KV simulation (test/sim/kv): a member whose torn last write kept a new
 * term's entries but not the hard state after them restarts at the log's term (it used to refuse
 * to start), and a follower never relays another member's ReadIndex (the answer would come back to
 * the follower and could release one of its own reads at a stale index, thesis §6.4).
 */
import { describe, expect, it } from "vitest";
import { makeMessage } from "../../../src/raft/message.ts";
import { MessageType } from "../../../src/raft/types.ts";
import { entries, ids, makeCore, Network } from "./network.ts";

const [A, B, C] = ids(3) as [string, string, string];

describe("restart after a torn write", () => {
  it("raises a hard state term below the last log term to that term, with no vote, and persists it", () => {
    const core = makeCore(
      A,
      { voters: [A, B, C], learners: [] },
      { initial: { entries: entries([1, 1, 3]), hardState: { term: 2, vote: B, commit: 2 } } },
    );
    expect(core.status()).toMatchObject({ term: 3, vote: "", role: "follower" });
    const rd = core.ready();
    expect(rd.hardState).toEqual({ term: 3, vote: "", commit: 2 });
  });
});

describe("ReadIndex forwarding", () => {
  it("a follower forwards its own ReadIndex to the leader but drops another member's", () => {
    const net = new Network({ voters: [A, B, C], learners: [] });
    net.elect(A);
    const ctx = new Uint8Array([1, 2, 3]);
    // C believes B leads and sends it a read index request; B is a follower.
    net.core(B).step(makeMessage({ type: MessageType.ReadIndex, from: C, to: B, context: ctx }));
    const relayed = net.handleReady(B, false).filter((m) => m.type === MessageType.ReadIndex);
    expect(relayed).toEqual([]);
    // B's own request goes to the leader and comes back to B.
    net.core(B).readIndex(ctx);
    net.stabilize();
    expect(net.node(B).readStates.map((r) => Array.from(r.requestCtx))).toEqual([[1, 2, 3]]);
  });
});
