/**
 * Batching and pipelining of appends (etcd-io/raft Progress states and Inflights; Raft thesis
 * §10.2.1 on pipelining): every proposal pending at a Ready goes out in as few MsgApp as
 * maxAppendBytes allows, several MsgApp may be in flight to a follower in replicate state, and a
 * follower in probe state gets one at a time.
 */
import { describe, expect, it } from "vitest";
import { ENTRY_HEADER_BYTES } from "../../../src/raft/log.ts";
import { type Message, MessageType } from "../../../src/raft/types.ts";
import { bytes, ids, Network } from "./network.ts";

const [A, B, C] = ids(3) as [string, string, string];

function appsTo(msgs: Message[], to: string): Message[] {
  return msgs.filter((m) => m.type === MessageType.App && m.to === to);
}

describe("batching", () => {
  it("all proposals made before a Ready go out in one MsgApp per follower", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    for (let i = 0; i < 10; i++) net.core(A).propose([bytes(`p${i}`)]);
    const out = net.handleReady(A);
    for (const to of [B, C]) {
      const apps = appsTo(out, to);
      expect(apps).toHaveLength(1);
      expect(apps[0]!.entries.map((e) => e.index)).toEqual(Array.from({ length: 10 }, (_, i) => i + 2));
    }
    net.stabilize();
    expect(net.appliedData(C)).toHaveLength(10);
  });

  it("splits entries by maxAppendBytes and sends all chunks at once (pipelined)", () => {
    const perEntry = ENTRY_HEADER_BYTES + 4;
    const net = new Network({ voters: ids(3), learners: [] }, { maxAppendBytes: 3 * perEntry });
    net.elect(A);
    net.core(A).propose(Array.from({ length: 10 }, (_, i) => bytes(`p${String(i).padStart(3, "0")}`)));
    const out = net.handleReady(A);
    for (const to of [B, C]) {
      expect(appsTo(out, to).map((m) => m.entries.length)).toEqual([3, 3, 3, 1]);
      // Each MsgApp starts where the previous one ended.
      expect(appsTo(out, to).map((m) => m.index)).toEqual([1, 4, 7, 10]);
    }
    net.stabilize();
    expect(net.appliedData(B)).toHaveLength(10);
  });

  it("a single entry larger than maxAppendBytes still goes out, alone", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { maxAppendBytes: 8 });
    net.elect(A);
    net.core(A).propose([new Uint8Array(100), new Uint8Array(100)]);
    const out = net.handleReady(A);
    expect(appsTo(out, B).map((m) => m.entries.length)).toEqual([1, 1]);
  });
});

describe("pipelining", () => {
  it("several MsgApp are in flight to a replicating follower, at most maxInflightAppends", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { maxAppendBytes: 1, maxInflightAppends: 3 });
    net.elect(A);
    expect(net.core(A).status().progress?.get(B)?.state).toBe("replicate");
    net.core(A).propose(Array.from({ length: 6 }, (_, i) => bytes(`p${i}`)));
    const first = net.handleReady(A, false);
    expect(appsTo(first, B).map((m) => m.entries[0]!.index)).toEqual([2, 3, 4]);
    expect(net.core(A).status().progress?.get(B)).toMatchObject({ inflight: 3, next: 5, match: 1 });
    // Nothing more until an answer.
    net.core(A).propose([bytes("more")]);
    expect(appsTo(net.handleReady(A, false), B)).toEqual([]);
    // B acknowledges the first one: one slot frees, one more MsgApp goes.
    net.deliver(appsTo(first, B).slice(0, 1));
    const acks = net.handleReady(B, false);
    expect(acks).toHaveLength(1);
    net.deliver(acks);
    expect(appsTo(net.handleReady(A, false), B).map((m) => m.entries[0]!.index)).toEqual([5]);
  });

  it("a follower in probe state gets one MsgApp at a time", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { maxAppendBytes: 1 });
    net.elect(A);
    net.core(A).reportUnreachable(B);
    expect(net.core(A).status().progress?.get(B)?.state).toBe("probe");
    net.core(A).propose([bytes("a"), bytes("b"), bytes("c")]);
    const out = net.handleReady(A, false);
    expect(appsTo(out, B)).toHaveLength(1);
    expect(appsTo(out, C)).toHaveLength(3);
    net.core(A).propose([bytes("d")]);
    expect(appsTo(net.handleReady(A, false), B)).toHaveLength(0);
    // The answer moves B to replicate and the rest streams.
    net.deliver(appsTo(out, B));
    net.stabilize();
    expect(net.core(A).status().progress?.get(B)?.state).toBe("replicate");
    expect(net.appliedData(B)).toEqual(["a", "b", "c", "d"]);
  });

  it("recovers when every in-flight MsgApp was lost (heartbeat response frees a slot)", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { maxAppendBytes: 1, maxInflightAppends: 2 });
    net.elect(A);
    net.drop((m) => m.type === MessageType.App && m.to === B);
    net.propose(A, "a", "b", "c");
    expect(net.core(A).status().progress?.get(B)?.inflight).toBe(2);
    net.heal();
    net.tickAll(3);
    expect(net.appliedData(B)).toEqual(["a", "b", "c"]);
    expect(net.core(A).status().progress?.get(B)).toMatchObject({ state: "replicate", match: 4 });
  });

  it("reportUnreachable sends a replicating follower back to probe", () => {
    const net = new Network({ voters: ids(3), learners: [] });
    net.elect(A);
    net.isolate(B);
    net.propose(A, "x");
    expect(net.core(A).status().progress?.get(B)).toMatchObject({ state: "replicate", next: 3, match: 1 });
    net.core(A).reportUnreachable(B);
    expect(net.core(A).status().progress?.get(B)).toMatchObject({ state: "probe", next: 2 });
    net.heal();
    net.tickAll(1);
    expect(net.appliedData(B)).toEqual(["x"]);
  });
});
