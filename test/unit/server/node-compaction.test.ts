/**
 * Automatic compaction on a real node with a driven clock (issue 4 §4): --auto-compaction-mode
 * revision and periodic, proposed by the leader through Raft, bounding the history the status
 * reports.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type DrivenNode, startDrivenNode } from "./driven-node.ts";

const enc = new TextEncoder();
const MIN = 60_000;

let n: DrivenNode | undefined;
afterEach(async () => {
  await n?.stop();
  n = undefined;
});

async function writes(node: DrivenNode, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await node.node.put({ key: enc.encode("k"), value: enc.encode(`v${i}`) });
}

describe("auto compaction", () => {
  it("revision mode keeps the last N revisions, checked every 5 minutes", async () => {
    n = await startDrivenNode({ autoCompaction: { mode: "revision", retention: 10 } });
    await n.advance(0); // the compactor starts on the first tick
    await writes(n, 30); // revision 31
    await n.advance(5 * MIN - 1);
    expect((await n.node.status()).compactRevision).toBe(0);
    await n.advance(1);
    let s = await n.node.status();
    expect(s.compactRevision).toBe(21);
    expect(s.historyEntries).toBe(11);
    await writes(n, 5);
    await n.advance(5 * MIN);
    s = await n.node.status();
    expect(s.compactRevision).toBe(26);
    expect(s.historyEntries).toBe(11);
  });

  it("periodic mode compacts to the revision of one retention period ago", async () => {
    n = await startDrivenNode({ autoCompaction: { mode: "periodic", retentionMs: 10 * MIN } });
    await n.advance(0);
    // One write per minute: revision r at minute r - 1 (the samples are taken every minute).
    for (let minute = 1; minute <= 10; minute++) {
      await writes(n, 1);
      expect((await n.node.status()).compactRevision).toBe(0);
      await n.advance(MIN);
    }
    // At minute 10 the oldest of the samples (taken every minute, 11 kept) is the start's
    // revision 1; etcd's periodic compactor compacts to it.
    expect((await n.node.status()).compactRevision).toBe(1);
    for (let minute = 11; minute <= 20; minute++) {
      await writes(n, 1);
      await n.advance(MIN);
    }
    // At minute 20 (ten minutes after the last compaction) it compacts to the sample of minute 9:
    // revision 10, about ten minutes of history kept.
    const later = await n.node.status();
    expect([later.compactRevision, later.revision, later.historyEntries]).toEqual([10, 21, 12]);
  });

  it("is off without the flag", async () => {
    n = await startDrivenNode();
    await writes(n, 5);
    await n.advance(60 * MIN);
    expect((await n.node.status()).compactRevision).toBe(0);
  });
});
