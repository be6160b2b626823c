/**
 * Snapshots and log compaction (Raft paper §7): a leader sends its snapshot to a follower that
 * needs compacted entries; the follower restores it and catches up by appends.
 */
import { describe, expect, it } from "vitest";
import { type Message, MessageType } from "../../../src/raft/types.ts";
import { AssertionError } from "../../../src/util/assert.ts";
import { ids, makeCore, Network, nid } from "./network.ts";

const [A, B, C] = ids(3) as [string, string, string];

function msg(fields: Partial<Message> & Pick<Message, "type" | "from" | "to">): Message {
  return { term: 0, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...fields };
}

/** A 3-member cluster led by A in which C missed `n` proposals that A then compacted. */
function laggingFollower(n: number, catchUp: number): Network {
  const net = new Network({ voters: ids(3), learners: [] }, { snapshotCatchUpEntries: catchUp });
  net.elect(A);
  net.isolate(C);
  for (let i = 0; i < n; i++) net.propose(A, `v${i}`);
  net.compact(A);
  return net;
}

describe("snapshot to a lagging follower (§7)", () => {
  it("sends MsgSnap when the follower needs compacted entries; the follower restores and catches up", () => {
    const net = laggingFollower(10, 0);
    expect(net.core(A).status()).toMatchObject({ snapshotIndex: 11, firstIndex: 12 });
    net.heal();
    net.propose(A, "after");
    net.tickAll(3);
    const snaps = net.log.filter((m) => m.type === MessageType.Snap);
    expect(snaps).toHaveLength(1);
    expect(snaps[0]).toMatchObject({ from: A, to: C });
    expect(snaps[0]!.snapshot!.metadata.index).toBe(11);
    // The follower's Ready carried the snapshot; its durable log restarted after it.
    const c = net.node(C);
    expect(c.snapshots.map((s) => s.metadata.index)).toEqual([11]);
    expect(c.readies.find((r) => r.snapshot)?.committedEntries).toEqual([]);
    expect(c.store.snapshot?.metadata.index).toBe(11);
    expect(c.store.entries.map((e) => e.index)).toEqual([12]);
    expect(net.appliedData(C)).toEqual(net.appliedData(A));
    expect(net.appliedData(C)).toEqual([...Array.from({ length: 10 }, (_, i) => `v${i}`), "after"]);
    // Progress went back to replicate.
    const pr = net.core(A).status().progress?.get(C);
    expect(pr).toMatchObject({ state: "replicate", match: 12 });
    expect(net.core(C).status()).toMatchObject({ commit: 12, applied: 12, lastIndex: 12, snapshotIndex: 11 });
  });

  it("does not send a snapshot when the follower can catch up from the entries kept after compaction", () => {
    const net = laggingFollower(10, 20);
    expect(net.core(A).status().firstIndex).toBe(1);
    net.heal();
    net.tickAll(3);
    expect(net.log.some((m) => m.type === MessageType.Snap)).toBe(false);
    expect(net.appliedData(C)).toEqual(net.appliedData(A));
  });

  it("waits while the snapshot is in flight, resumes probing on reportSnapshot", () => {
    const net = laggingFollower(5, 0);
    net.heal();
    net.drop((m) => m.type === MessageType.Snap); // the transport loses it
    net.tickAll(2);
    expect(net.core(A).status().progress?.get(C)?.state).toBe("snapshot");
    const sent = net.log.filter((m) => m.type === MessageType.Snap).length;
    net.tickAll(3);
    // No new snapshot nor append while one is in flight.
    expect(net.log.filter((m) => m.type === MessageType.Snap).length).toBe(sent);
    net.core(A).reportSnapshot(C, false);
    expect(net.core(A).status().progress?.get(C)?.state).toBe("probe");
    net.heal();
    net.tickAll(3);
    expect(net.appliedData(C)).toEqual(net.appliedData(A));
    expect(net.core(A).status().progress?.get(C)?.state).toBe("replicate");
  });

  it("reportSnapshot(ok) moves the progress to probe, then the follower's answer to replicate", () => {
    const net = laggingFollower(5, 0);
    net.heal();
    net.drop((m) => m.type === MessageType.AppResp && m.from === C && !m.reject);
    net.tickAll(2);
    expect(net.core(A).status().progress?.get(C)?.state).toBe("snapshot");
    expect(net.node(C).snapshots).toHaveLength(1);
    net.core(A).reportSnapshot(C, true);
    const pr = net.core(A).status().progress?.get(C);
    expect(pr).toMatchObject({ state: "probe", next: 7 });
    net.heal();
    net.tickAll(2);
    expect(net.core(A).status().progress?.get(C)).toMatchObject({ state: "replicate", match: 6 });
  });

  it("a follower that already has the snapshot's last entry only advances its commit index (§7 rule 6)", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { snapshotCatchUpEntries: 0 });
    net.elect(A);
    net.propose(A, "x", "y");
    const snapshot = net.compact(A);
    const core = net.core(B);
    const before = core.status();
    core.step(msg({ type: MessageType.Snap, from: A, to: B, term: 1, snapshot }));
    expect(core.status().lastIndex).toBe(before.lastIndex);
    const rd = core.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages[0]).toMatchObject({ type: MessageType.AppResp, index: before.commit });
  });

  it("a member restarts from its snapshot and persisted entries", () => {
    const net = new Network({ voters: ids(3), learners: [] }, { snapshotCatchUpEntries: 0 });
    net.elect(A);
    net.propose(A, "1", "2");
    net.compact(B);
    net.propose(A, "3");
    net.crash(B);
    const node = net.restart(B, { snapshotCatchUpEntries: 0 });
    expect(node.core.status()).toMatchObject({ applied: 3, snapshotIndex: 3, lastIndex: 4, term: 1 });
    net.tickAll(2);
    expect(net.appliedData(B)).toEqual(["1", "2", "3"]);
    net.propose(A, "4");
    expect(net.appliedData(B)).toEqual(["1", "2", "3", "4"]);
  });
});

describe("compact()", () => {
  it("rejects a snapshot beyond the applied index", () => {
    const core = makeCore(A, { voters: [A], learners: [] });
    core.campaign();
    const rd = core.ready();
    core.advance(rd); // durable, committed, not applied yet
    expect(() =>
      core.compact({
        metadata: { index: 1, term: 1, confState: { voters: [A], learners: [] } },
        data: new Uint8Array(),
      }),
    ).toThrow(AssertionError);
  });

  it("ignores an older snapshot and keeps catch-up entries", () => {
    const net = new Network({ voters: [A], learners: [] }, { snapshotCatchUpEntries: 2 });
    net.elect(A);
    for (let i = 0; i < 5; i++) net.propose(A, `v${i}`);
    net.compact(A);
    expect(net.core(A).status()).toMatchObject({ snapshotIndex: 6, firstIndex: 5 });
    net.core(A).compact({
      metadata: { index: 3, term: 1, confState: { voters: [A], learners: [] } },
      data: new Uint8Array(),
    });
    expect(net.core(A).status()).toMatchObject({ snapshotIndex: 6, firstIndex: 5 });
  });

  it("a snapshot whose configuration lacks the member is ignored", () => {
    const core = makeCore(B, { voters: [A, B], learners: [] });
    core.step(
      msg({
        type: MessageType.Snap,
        from: A,
        to: B,
        term: 1,
        snapshot: {
          metadata: { index: 5, term: 1, confState: { voters: [A, nid(7)], learners: [] } },
          data: new Uint8Array(),
        },
      }),
    );
    expect(core.status().lastIndex).toBe(0);
  });
});
