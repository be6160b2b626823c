/**
 * The watch hub's progress notifications (periodic with time given to tick(), and on request),
 * compacted errors (start at or below the compact revision, compaction overtaking a catch-up),
 * and snapshot restore under live watchers (issue 4 §1).
 */
import { describe, expect, it } from "vitest";
import { KvStore } from "../../../src/mvcc/store.ts";
import { WatchHub } from "../../../src/mvcc/watch-hub.ts";
import { b, seededRandom } from "./helpers.ts";
import { drain, eventLines, linesFrom, messageText, randomHistory, WatchRig } from "./watch-helpers.ts";

describe("watch hub: progress notifications", () => {
  it("sends a periodic progress notification with the current revision only to quiet watchers that asked", () => {
    const rig = new WatchRig({ progressIntervalMs: 1_000 });
    const w = rig.watch("a", { progressNotify: true });
    const silent = rig.watch("a");
    rig.tick(0);
    rig.put("b", "x"); // revision 2, not watched
    rig.tick(999);
    expect(drain(w)).toEqual([]);
    rig.tick(1_000);
    expect(drain(w).map(messageText)).toEqual(["progress 2"]);
    rig.tick(1_500);
    rig.put("a", "1"); // an event at 1 500: the next progress is due 1 000 ms later
    rig.tick(2_000);
    expect(drain(w).map(messageText)).toEqual(["r3: PUT a=1@3"]);
    rig.tick(2_499);
    expect(drain(w)).toEqual([]);
    rig.tick(2_500);
    expect(drain(w).map(messageText)).toEqual(["progress 3"]);
    expect(drain(silent).map(messageText)).toEqual(["r3: PUT a=1@3"]);
  });

  it("answers a progress request after the events already buffered, with the revision seen through", () => {
    const rig = new WatchRig();
    const w = rig.watch("a");
    rig.put("a", "1");
    rig.put("b", "1");
    w.requestProgress();
    w.requestProgress(); // merged with the one at the tail
    expect(drain(w).map(messageText)).toEqual(["r2: PUT a=1@2", "progress 3 (requested)"]);
    w.requestProgress();
    expect(drain(w).map(messageText)).toEqual(["progress 3 (requested)"]);
  });

  it("never reports progress past an event not yet delivered, while catching up", () => {
    const rig = new WatchRig({ maxBufferBytes: 1_500 });
    const expected = randomHistory(rig, seededRandom(9), 80);
    const w = rig.watch("\u0000", { end: "\u0000", prevKv: true, startRevision: 1 });
    let seen = 0;
    const lines: string[] = [];
    for (let m = w.poll(); m !== undefined; m = w.poll()) {
      if (m.kind === "events") {
        expect(m.revision).toBeGreaterThan(seen);
        lines.push(messageText(m));
        seen = m.revision;
      } else if (m.kind === "progress") {
        // Every event up to the progress revision came before it.
        expect(lines).toEqual(
          linesFrom(expected, 1).filter((l) => Number(l.slice(1, l.indexOf(":"))) <= m.revision),
        );
        seen = m.revision;
      }
      if (m.kind === "events") w.requestProgress();
    }
    expect(lines).toEqual(linesFrom(expected, 1));
  });
});

describe("watch hub: compaction", () => {
  it("ends a watch that starts at or below the compact revision with compacted + compact revision", () => {
    const rig = new WatchRig();
    for (let i = 0; i < 5; i++) rig.put("a", `v${i}`); // revisions 2..6
    rig.compact(4);
    for (const start of [1, 3, 4]) {
      const w = rig.watch("a", { startRevision: start });
      expect(drain(w).map(messageText), `start ${start}`).toEqual(["compacted 4"]);
      expect(w.ended).toBe(true);
    }
    expect(drain(rig.watch("a", { startRevision: 5 })).map(messageText)).toEqual([
      "r5: PUT a=v3@5",
      "r6: PUT a=v4@6",
    ]);
    expect(rig.hub.watcherCount).toBe(1);
  });

  it("ends a watcher catching up from history when compaction overtakes it", () => {
    const rig = new WatchRig({ maxBufferBytes: 1_000 });
    for (let i = 0; i < 50; i++) rig.put(`k${i % 5}`, `v${i}`);
    const w = rig.watch("k", { end: "l", startRevision: 2 });
    const first = w.poll();
    expect(first?.kind).toBe("events");
    rig.compact(40);
    const rest = drain(w);
    const last = rest[rest.length - 1]!;
    expect(messageText(last)).toBe("compacted 40");
    // What came before the end is still exact history, in order, below the compaction point.
    const revs = [first!, ...rest.slice(0, -1)].map((m) => (m as { revision: number }).revision);
    expect(revs).toEqual(Array.from({ length: revs.length }, (_, i) => i + 2));
    expect(w.ended).toBe(true);
    expect(rig.hub.watcherCount).toBe(0);
  });

  it("does not disturb a synced watcher", () => {
    const rig = new WatchRig();
    const w = rig.watch("a");
    rig.put("a", "1");
    rig.compact(2);
    rig.put("a", "2");
    expect(drain(w).map(messageText)).toEqual(["r2: PUT a=1@2", "r3: PUT a=2@3"]);
  });
});

describe("watch hub: snapshot restore", () => {
  it("replays the revisions a restore jumped over, from the restored history", () => {
    const leader = new WatchRig();
    const follower = new WatchRig();
    const rng = seededRandom(21);
    const expected = randomHistory(leader, rng, 10);
    follower.store.restore(leader.store.snapshot());
    follower.hub.restored();
    const w = follower.watch("\u0000", { end: "\u0000", prevKv: true });
    const start = w.startRevision;
    for (const [rev, line] of randomHistory(leader, rng, 30)) expected.set(rev, line);
    // The follower gets the leader's newer state by snapshot, not by entries.
    follower.store.restore(leader.store.snapshot());
    follower.hub.restored();
    expect(eventLines(drain(w))).toEqual(linesFrom(expected, start));
  });

  it("ends with compacted when the snapshot's history no longer covers the watcher", () => {
    const leader = new WatchRig();
    const follower = new WatchRig();
    const w = follower.watch("a");
    for (let i = 0; i < 10; i++) leader.put("a", `v${i}`);
    leader.compact(8);
    follower.store.restore(leader.store.snapshot());
    follower.hub.restored();
    expect(drain(w).map(messageText)).toEqual(["compacted 8"]);
  });

  it("asserts on a skipped revision instead of delivering a gap", () => {
    const store = new KvStore();
    const hub = new WatchHub(store);
    store.apply({ op: "put", req: { key: b("a"), value: b("1") } });
    const { events } = store.applyWithEvents({ op: "put", req: { key: b("a"), value: b("2") } });
    expect(() => hub.publish(store.revision, events)).toThrow(/revision 3 after 1/);
  });
});
