/**
 * The watch hub's index of synced watchers (src/mvcc/watch-index.ts): lookups by key, prefix and
 * range agree with a brute-force scan on random intervals and keys; groups by selection; a
 * revision's events are selected once per selection and the same array is queued to each of its
 * watchers (so the SSE frame is encoded once, src/api/sse-watch.ts).
 */
import { describe, expect, it } from "vitest";
import { watchMessageFrame } from "../../../src/api/sse-watch.ts";
import { intervalContains, keyInterval, keyString } from "../../../src/mvcc/keys.ts";
import { prefixEndString, selectionKey, WatchIndex } from "../../../src/mvcc/watch-index.ts";
import { type WatchRequest, WatchSelector } from "../../../src/mvcc/watch-request.ts";
import { Watcher, type WatcherHost } from "../../../src/mvcc/watcher.ts";
import { seededRandom as rng } from "../../../src/util/random.ts";
import { b } from "./helpers.ts";
import { drain, WatchRig } from "./watch-helpers.ts";

const host: WatcherHost = { refill: () => {}, progressRequested: () => {}, closed: () => {} };
let nextId = 1;

function watcherOf(req: WatchRequest): Watcher {
  const selector = new WatchSelector(req);
  const w = new Watcher(nextId++, selector, false, 1, 0, host, 1 << 20);
  w.selectionKey = selectionKey(req, selector.interval);
  return w;
}

/** A short random key over a small alphabet (with 0x00 and 0xff, so edge cases come up). */
function randomKey(r: () => number, maxLen = 4): Uint8Array {
  const alphabet = [0x00, 0x61, 0x62, 0x63, 0xfe, 0xff];
  const n = 1 + Math.floor(r() * maxLen);
  return Uint8Array.from({ length: n }, () => alphabet[Math.floor(r() * alphabet.length)]!);
}

function prefixEndBytes(p: Uint8Array): Uint8Array {
  for (let i = p.length - 1; i >= 0; i--) {
    if (p[i]! < 0xff) {
      const e = p.slice(0, i + 1);
      e[i] = p[i]! + 1;
      return e;
    }
  }
  return new Uint8Array([0]);
}

/** A random watch request: single key, prefix, range, from-key. */
function randomRequest(r: () => number): WatchRequest {
  const key = randomKey(r);
  const kind = Math.floor(r() * 4);
  if (kind === 0) return { key };
  if (kind === 1) return { key, rangeEnd: prefixEndBytes(key) };
  if (kind === 2) return { key, rangeEnd: new Uint8Array([0]) };
  return { key, rangeEnd: randomKey(r) };
}

describe("WatchIndex", () => {
  it("prefixEndString matches prefixEnd on bytes", () => {
    expect(prefixEndString("abc")).toBe("abd");
    expect(prefixEndString("a\xff\xff")).toBe("b");
    expect(prefixEndString("\xff\xff")).toBeUndefined();
    expect(prefixEndString("")).toBeUndefined();
  });

  it("groups watchers by selection (interval, filters, prev_kv)", () => {
    const idx = new WatchIndex();
    const a1 = watcherOf({ key: b("cfg/"), rangeEnd: b("cfg0") });
    const a2 = watcherOf({ key: b("cfg/"), rangeEnd: b("cfg0") });
    const p = watcherOf({ key: b("cfg/"), rangeEnd: b("cfg0"), prevKv: true });
    const f = watcherOf({ key: b("cfg/"), rangeEnd: b("cfg0"), filters: ["NODELETE"] });
    for (const w of [a1, a2, p, f]) idx.add(w);
    expect(idx.size).toBe(4);
    expect(idx.groupCount).toBe(3);
    expect(a1.group).toBe(a2.group);
    expect(a1.group?.kind).toBe("prefix");
    const hit = idx.match([keyString(b("cfg/x"))], 7);
    expect(hit).toHaveLength(3);
    expect(idx.match([keyString(b("cfh"))], 8)).toEqual([]);
    idx.remove(a1);
    idx.remove(a2);
    idx.remove(a2); // no-op
    expect(idx.size).toBe(2);
    expect(idx.groupCount).toBe(2);
    expect(idx.match([keyString(b("cfg/x"))], 9)).toHaveLength(2);
  });

  it("finds exactly the groups a brute-force scan finds (random keys, prefixes, ranges)", () => {
    const r = rng(0xcafe);
    for (let round = 0; round < 30; round++) {
      const idx = new WatchIndex();
      const live: Watcher[] = [];
      let revision = 1;
      for (let step = 0; step < 200; step++) {
        if (live.length > 0 && r() < 0.3) {
          const [w] = live.splice(Math.floor(r() * live.length), 1);
          idx.remove(w!);
        } else {
          const w = watcherOf(randomRequest(r));
          idx.add(w);
          live.push(w);
        }
        const keyBytes = Array.from({ length: 1 + Math.floor(r() * 3) }, () => randomKey(r, 5));
        const keys = keyBytes.map(keyString);
        const got = new Set(idx.match(keys, revision++).map((g) => g.key));
        const want = new Set(
          live
            .filter((w) => keys.some((k) => intervalContains(w.selector.interval, k)))
            .map((w) => w.selectionKey),
        );
        expect([...got].sort()).toEqual([...want].sort());
        for (const [i, k] of keys.entries()) {
          // mayHold may say yes for nothing, never no for something
          if (live.some((w) => intervalContains(w.selector.interval, k)))
            expect(idx.mayHold(keyBytes[i]!)).toBe(true);
        }
      }
    }
  });

  it("rules out a key whose first byte starts no watched key or prefix without a key string", () => {
    const idx = new WatchIndex();
    const w = watcherOf({ key: b("cfg/"), rangeEnd: b("cfg0") });
    idx.add(w);
    idx.add(watcherOf({ key: b("dkey") }));
    expect(idx.mayHold(b("bench000"))).toBe(false);
    expect(idx.mayHold(b("cfg/x"))).toBe(true);
    expect(idx.mayHold(b("c"))).toBe(true); // same first byte: looked up, then not found
    expect(idx.mayHold(b("d"))).toBe(true);
    idx.remove(w);
    expect(idx.mayHold(b("cfg/x"))).toBe(false);
    idx.add(watcherOf({ key: b("a"), rangeEnd: b("b0") })); // a range: every key is looked up
    expect(idx.mayHold(b("bench000"))).toBe(true);
  });

  it("treats a range equal to a prefix's as that prefix, and [k, +∞) as a range", () => {
    const idx = new WatchIndex();
    const w1 = watcherOf({ key: b("a"), rangeEnd: b("b") });
    const w2 = watcherOf({ key: b("a"), rangeEnd: new Uint8Array([0]) });
    idx.add(w1);
    idx.add(w2);
    expect(w1.group?.kind).toBe("prefix");
    expect(w2.group?.kind).toBe("range");
    expect(keyInterval(b("a"), new Uint8Array([0])).end).toBeNull();
    expect(idx.match([keyString(b("zz"))], 1).map((g) => g.kind)).toEqual(["range"]);
  });
});

describe("WatchHub with the index", () => {
  it("queues one shared events array per selection, so the SSE frame is encoded once", () => {
    const rig = new WatchRig();
    const ws = Array.from({ length: 5 }, () => rig.watch("cfg/", { end: "cfg0" }));
    const withPrev = rig.watch("cfg/", { end: "cfg0", prevKv: true });
    const single = rig.watch("cfg/a");
    rig.put("cfg/a", "1");
    rig.put("other", "x"); // watched by nobody
    rig.put("cfg/a", "2");
    const msgs = ws.map((w) => drain(w));
    for (const m of msgs) expect(m.map((x) => (x.kind === "events" ? x.revision : 0))).toEqual([2, 4]);
    const [first] = msgs;
    for (const m of msgs) {
      for (let i = 0; i < m.length; i++) {
        const a = m[i]!;
        const f = first![i]!;
        expect(a.kind === "events" && f.kind === "events" && a.events === f.events).toBe(true);
        expect(watchMessageFrame(a)).toBe(watchMessageFrame(f)); // the same bytes object
      }
    }
    const prev = drain(withPrev);
    const plain = first![1]!;
    const prevMsg = prev[1]!;
    expect(prevMsg.kind === "events" && prevMsg.events[0]!.prevKv !== undefined).toBe(true);
    expect(plain.kind === "events" && plain.events[0]!.prevKv === undefined).toBe(true);
    expect(watchMessageFrame(prevMsg).toString()).toContain('"prev_kv"');
    expect(watchMessageFrame(plain).toString()).toBe(
      `data: ${JSON.stringify({
        revision: 4,
        events: [
          {
            type: "PUT",
            kv: { key: "cfg/a", value: "2", create_revision: 2, mod_revision: 4, version: 2, lease: 0 },
          },
        ],
      })}\nid: 4\n\n`,
    );
    expect(drain(single)).toHaveLength(2);
  });

  it("splits a multi-key revision per selection and drops watchers from the index as they end", () => {
    const rig = new WatchRig();
    const a = rig.watch("t/a/", { end: "t/a0" });
    const bw = rig.watch("t/b/", { end: "t/b0" });
    const all = rig.watch("t/", { end: "t0" });
    rig.putMany([
      ["t/a/1", "x"],
      ["t/b/1", "y"],
    ]);
    const keysOf = (w: typeof a) =>
      drain(w).flatMap((m) => (m.kind === "events" ? m.events.map((e) => keyString(e.kv.key)) : []));
    expect(keysOf(a)).toEqual(["t/a/1"]);
    expect(keysOf(bw)).toEqual(["t/b/1"]);
    expect(keysOf(all)).toEqual(["t/a/1", "t/b/1"]);
    a.close();
    bw.close();
    all.close();
    expect(rig.hub.watcherCount).toBe(0);
    rig.put("t/a/2", "z"); // nothing indexed any more
  });
});
