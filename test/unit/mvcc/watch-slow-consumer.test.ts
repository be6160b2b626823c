/**
 * Slow consumers (issue 4 §1): a bounded buffer per watcher; when it fills the watcher ends with
 * "resume from revision N"; writes never wait and memory never grows past the bound; a resume
 * from N gives exactly the missing events.
 */
import { describe, expect, it } from "vitest";
import type { WatchMessage, WatchStream } from "../../../src/mvcc/watcher.ts";
import { MAX_WATCH_BUFFER_BYTES } from "../../../src/util/limits.ts";
import { seededRandom } from "./helpers.ts";
import { drain, eventLines, linesFrom, messageText, randomHistory, WatchRig } from "./watch-helpers.ts";

const buffered = (w: WatchStream) => (w as unknown as { bufferedBytes: number }).bufferedBytes;

describe("watch hub: slow consumers", () => {
  it("cancels a watcher whose consumer does not read, with the revision to resume from; writes go on", () => {
    const maxBufferBytes = 4_096;
    const rig = new WatchRig({ maxBufferBytes });
    const slow = rig.watch("k", { end: "l" });
    const reader = rig.watch("k", { end: "l" });
    const readerGot: WatchMessage[] = [];
    rig.put("k0", "first"); // revision 2
    expect(messageText(slow.poll()!)).toBe("r2: PUT k0=first@2"); // taken: resume is after it
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      const before = rig.store.revision;
      rig.put(`k${i % 7}`, "x".repeat(100));
      expect(rig.store.revision).toBe(before + 1); // the write is never held back
      peak = Math.max(peak, buffered(slow));
      readerGot.push(...drain(reader));
    }
    expect(peak).toBeLessThanOrEqual(maxBufferBytes);
    expect(slow.ended).toBe(true);
    expect(buffered(slow)).toBeLessThan(100); // the dropped events are freed, only the final message is left
    const end = drain(slow);
    expect(end).toHaveLength(1);
    const final = end[0]!;
    expect(final.kind).toBe("cancelled");
    if (final.kind !== "cancelled") throw new Error("unreachable");
    expect(final.resumeRevision).toBe(3);
    expect(final.reason).toMatch(/fell behind.*4096 bytes.*resume from revision 3$/);
    expect(rig.hub.watcherCount).toBe(1); // the slow one is gone; the reader is untouched
    expect(readerGot).toHaveLength(201);
  });

  it("resuming from the cancelled watcher's revision misses nothing and repeats nothing", () => {
    const rig = new WatchRig({ maxBufferBytes: 3_000 });
    const rng = seededRandom(13);
    const expected = new Map<number, string>();
    let w = rig.watch("\u0000", { end: "\u0000", prevKv: true });
    const start = w.startRevision;
    const lines: string[] = [];
    let cancels = 0;
    for (let round = 0; round < 60; round++) {
      for (const [rev, line] of randomHistory(rig, rng, 1 + Math.floor(rng() * 12))) expected.set(rev, line);
      // Read only a little each round: the watcher falls behind now and then.
      for (let k = 0; k < 2; k++) {
        const m = w.poll();
        if (m === undefined) break;
        if (m.kind === "events") lines.push(messageText(m));
        if (m.kind === "cancelled") {
          cancels++;
          w = rig.watch("\u0000", { end: "\u0000", prevKv: true, startRevision: m.resumeRevision });
        }
      }
    }
    for (let m = w.poll(); m !== undefined; m = w.poll()) lines.push(...eventLines([m]));
    expect(cancels).toBeGreaterThan(0);
    expect(lines).toEqual(linesFrom(expected, start));
  });

  it("accepts one revision larger than the buffer into an empty buffer (no livelock on resume)", () => {
    const rig = new WatchRig({ maxBufferBytes: 1_000 });
    const w = rig.watch("big");
    rig.put("big", "y".repeat(5_000));
    expect(drain(w).map((m) => m.kind)).toEqual(["events"]);
    const replay = rig.watch("big", { startRevision: 2 });
    expect(drain(replay).map((m) => m.kind)).toEqual(["events"]);
  });

  it("has a named default bound", () => {
    expect(MAX_WATCH_BUFFER_BYTES).toBe(1024 * 1024);
    const rig = new WatchRig();
    const w = rig.watch("k");
    const value = "z".repeat(64 * 1024);
    let n = 0;
    while (!w.ended) {
      rig.put("k", value);
      n++;
    }
    // 1 MiB of 64 KiB values: cancelled at the 16th, never holding more than the bound.
    expect(n).toBe(16);
    expect(messageText(drain(w)[0]!)).toBe("cancelled 2");
  });

  it("ends every watcher with cancelled and its resume revision when the member stops", () => {
    const rig = new WatchRig();
    const a = rig.watch("a");
    rig.put("a", "1");
    expect(a.poll()?.kind).toBe("events");
    rig.put("a", "2");
    rig.hub.closeAll("member is stopping");
    const msgs = drain(a);
    expect(msgs).toEqual([
      { kind: "cancelled", resumeRevision: 3, reason: "member is stopping; resume from revision 3" },
    ]);
    expect(rig.hub.watcherCount).toBe(0);
  });
});
