/**
 * The watch hub's delivery guarantees (issue 4 §1): ordered by revision, no duplicates, one
 * revision never split, resumable from any revision not compacted with no gap and no duplicate
 * at the seam between replay and live events; key / prefix / range selection; filters; prev_kv.
 */
import { describe, expect, it } from "vitest";
import { FROM_KEY_END, prefixEnd } from "../../../src/mvcc/keys.ts";
import type { WatchMessage, WatchStream } from "../../../src/mvcc/watcher.ts";
import { b, seededRandom } from "./helpers.ts";
import { drain, eventLines, linesFrom, messageText, randomHistory, WatchRig } from "./watch-helpers.ts";

const ALL = { end: "\u0000" }; // [key, "\0") = every key >= key

describe("watch hub: live events", () => {
  it("delivers a put on the watched key at once, and nothing for other keys", () => {
    const rig = new WatchRig();
    const w = rig.watch("a");
    expect(w.startRevision).toBe(2);
    expect(w.createdRevision).toBe(1);
    rig.put("b", "x");
    rig.put("a", "1");
    rig.put("ab", "y");
    expect(drain(w).map(messageText)).toEqual(["r3: PUT a=1@3"]);
  });

  it("wakes a consumer waiting in next()", async () => {
    const rig = new WatchRig();
    const w = rig.watch("a");
    const pending = w.next();
    rig.put("a", "1");
    expect(messageText((await pending)!)).toBe("r2: PUT a=1@2");
  });

  it("selects a prefix, a range [key, range_end) and every key from key", () => {
    const rig = new WatchRig();
    const prefix = rig.hub.watch({ key: b("p/"), rangeEnd: prefixEnd(b("p/")) });
    const range = rig.watch("b", { end: "d" });
    const from = rig.hub.watch({ key: b("c"), rangeEnd: FROM_KEY_END });
    for (const k of ["a", "b", "c", "d", "p", "p/", "p/x", "p0", "zz"]) rig.put(k, "v");
    const keysOf = (w: WatchStream) =>
      drain(w).flatMap((m) =>
        m.kind === "events" ? m.events.map((e) => new TextDecoder().decode(e.kv.key)) : [],
      );
    expect(keysOf(prefix)).toEqual(["p/", "p/x"]);
    expect(keysOf(range)).toEqual(["b", "c"]);
    expect(keysOf(from)).toEqual(["c", "d", "p", "p/", "p/x", "p0", "zz"]);
  });

  it("keeps a multi-key txn in one message, in key order (never split across messages)", () => {
    const rig = new WatchRig();
    const w = rig.watch("k", { end: "l" });
    rig.putMany([
      ["k3", "x"],
      ["k1", "x"],
      ["k2", "x"],
      ["other", "x"],
    ]);
    rig.del("k", "l");
    expect(drain(w).map(messageText)).toEqual([
      "r2: PUT k1=x@2 | PUT k2=x@2 | PUT k3=x@2",
      "r3: DELETE k1@3 | DELETE k2@3 | DELETE k3@3",
    ]);
  });

  it("delivers a random history in revision order, each revision once, as a brute-force model expects", () => {
    const rig = new WatchRig();
    const w = rig.watch("\u0000", { ...ALL, prevKv: true });
    const expected = randomHistory(rig, seededRandom(7), 400);
    const got = drain(w);
    expect(got.every((m) => m.kind === "events")).toBe(true);
    const revisions = got.map((m) => (m as { revision: number }).revision);
    expect(revisions).toEqual([...revisions].sort((x, y) => x - y));
    expect(new Set(revisions).size).toBe(revisions.length);
    expect(eventLines(got)).toEqual(linesFrom(expected, 2));
  });

  it("starts from a future revision: nothing before it", () => {
    const rig = new WatchRig();
    const w = rig.watch("a", { startRevision: 4 });
    rig.put("a", "1"); // 2
    rig.put("a", "2"); // 3
    rig.put("a", "3"); // 4
    expect(drain(w).map(messageText)).toEqual(["r4: PUT a=3@4"]);
  });
});

describe("watch hub: filters and prev_kv", () => {
  it("NOPUT and NODELETE drop those events, live and replayed", () => {
    const rig = new WatchRig();
    const noPut = rig.watch("a", { filters: ["NOPUT"] });
    const noDelete = rig.watch("a", { filters: ["NODELETE"] });
    rig.put("a", "1");
    rig.del("a");
    rig.put("a", "2");
    expect(drain(noPut).map(messageText)).toEqual(["r3: DELETE a@3"]);
    expect(drain(noDelete).map(messageText)).toEqual(["r2: PUT a=1@2", "r4: PUT a=2@4"]);
    expect(drain(rig.watch("a", { startRevision: 1, filters: ["NOPUT"] })).map(messageText)).toEqual([
      "r3: DELETE a@3",
    ]);
    const none = rig.watch("a", { startRevision: 1, filters: ["NOPUT", "NODELETE"] });
    expect(drain(none)).toEqual([]);
  });

  it("sends prev_kv only when asked, live and replayed, and none after a delete", () => {
    const rig = new WatchRig();
    const withPrev = rig.watch("a", { prevKv: true });
    const without = rig.watch("a");
    rig.put("a", "1");
    rig.put("a", "2");
    rig.del("a");
    rig.put("a", "3");
    const expected = [
      "r2: PUT a=1@2",
      "r3: PUT a=2@3 [prev 1@2]",
      "r4: DELETE a@4 [prev 2@3]",
      "r5: PUT a=3@5",
    ];
    expect(drain(withPrev).map(messageText)).toEqual(expected);
    expect(drain(without).map(messageText)).toEqual(expected.map((l) => l.replace(/ \[prev [^\]]*\]/g, "")));
    expect(drain(rig.watch("a", { startRevision: 2, prevKv: true })).map(messageText)).toEqual(expected);
  });

  it("rejects a watch without a key, with a bad start revision or an unknown filter", () => {
    const rig = new WatchRig();
    expect(() => rig.hub.watch({ key: new Uint8Array(0) })).toThrow(/key is not provided/);
    expect(() => rig.watch("a", { startRevision: -1 })).toThrow(/start_revision/);
    expect(() => rig.watch("a", { startRevision: 1.5 })).toThrow(/start_revision/);
    expect(() => rig.watch("a", { filters: ["NOPE" as "NOPUT"] })).toThrow(/unknown filter/);
  });
});

describe("watch hub: resume from history", () => {
  it("resumes from every revision of a history with exactly the events from it", () => {
    const rig = new WatchRig();
    const expected = randomHistory(rig, seededRandom(11), 120);
    for (let start = 1; start <= rig.store.revision + 1; start++) {
      const w = rig.watch("\u0000", { ...ALL, prevKv: true, startRevision: start });
      expect(eventLines(drain(w)), `start ${start}`).toEqual(linesFrom(expected, start));
      w.close();
    }
    expect(rig.hub.watcherCount).toBe(0);
  });

  it("switches from replay to live events with no gap and no duplicate at the seam", () => {
    const rig = new WatchRig();
    const rng = seededRandom(3);
    const expected = randomHistory(rig, rng, 60);
    const watchers = Array.from({ length: rig.store.revision + 1 }, (_, i) =>
      rig.watch("\u0000", { ...ALL, prevKv: true, startRevision: i + 1 }),
    );
    const got = watchers.map(() => [] as WatchMessage[]);
    // Interleave: take a few messages from each watcher, write more, repeat.
    for (let round = 0; round < 40; round++) {
      watchers.forEach((w, i) => {
        for (let k = 0; k < 3; k++) {
          const m = w.poll();
          if (m) got[i]!.push(m);
        }
      });
      for (const [rev, line] of randomHistory(rig, rng, 2)) expected.set(rev, line);
    }
    watchers.forEach((w, i) => {
      got[i]!.push(...drain(w));
      expect(eventLines(got[i]!), `start ${i + 1}`).toEqual(linesFrom(expected, i + 1));
    });
  });

  it("catches up in bounded steps with a small buffer, then continues live", () => {
    const rig = new WatchRig({ maxBufferBytes: 2_000 });
    const rng = seededRandom(5);
    const expected = randomHistory(rig, rng, 200);
    const w = rig.watch("\u0000", { ...ALL, prevKv: true, startRevision: 1 });
    const got: WatchMessage[] = [];
    let maxBuffered = 0;
    while (!w.ended && got.length < 1_000) {
      maxBuffered = Math.max(maxBuffered, (w as unknown as { bufferedBytes: number }).bufferedBytes);
      const m = w.poll();
      if (m === undefined) break;
      got.push(m);
    }
    expect(maxBuffered).toBeLessThanOrEqual(2_000);
    for (const [rev, line] of randomHistory(rig, rng, 3)) expected.set(rev, line);
    got.push(...drain(w));
    expect(eventLines(got)).toEqual(linesFrom(expected, 1));
  });

  it("forgets a closed watcher: no more messages, no more work", () => {
    const rig = new WatchRig();
    const w = rig.watch("a");
    w.close();
    rig.put("a", "1");
    expect(w.poll()).toBeUndefined();
    expect(w.ended).toBe(true);
    expect(rig.hub.watcherCount).toBe(0);
  });
});
