/** KvStore.applyWithEvents: the events of one write, and results unchanged by recording them. */
import { describe, expect, it } from "vitest";
import { KvStore } from "../../../src/mvcc/store.ts";
import type { Command } from "../../../src/mvcc/types.ts";
import { b, errorCode, op, seededRandom } from "./helpers.ts";
import { eventText } from "./watch-helpers.ts";

function events(store: KvStore, cmd: Command): string[] {
  return store.applyWithEvents(cmd).events.map(eventText);
}

describe("KvStore.applyWithEvents", () => {
  it("gives a put's event with its prev_kv, at the new revision", () => {
    const s = new KvStore();
    expect(events(s, { op: "put", req: { key: b("a"), value: b("1") } })).toEqual(["PUT a=1@2"]);
    expect(events(s, { op: "put", req: { key: b("a"), value: b("2") } })).toEqual(["PUT a=2@3 [prev 1@2]"]);
    expect(events(s, { op: "leaseGrant", req: { id: 7, ttl: 60 } })).toEqual([]);
    const [e] = s.applyWithEvents({ op: "put", req: { key: b("a"), value: b("3"), lease: 7 } }).events;
    expect(e!.kv).toMatchObject({ createRevision: 2, modRevision: 4, version: 3, lease: 7 });
    expect(e!.prevKv).toMatchObject({ createRevision: 2, modRevision: 3, version: 2 });
  });

  it("gives one DELETE per deleted key, in key order, with only key and mod revision", () => {
    const s = new KvStore();
    for (const k of ["c", "a", "b"]) s.apply({ op: "put", req: { key: b(k), value: b(k) } });
    const { events: evs } = s.applyWithEvents({ op: "deleteRange", req: { key: b("a"), rangeEnd: b("z") } });
    expect(evs.map(eventText)).toEqual([
      "DELETE a@5 [prev a@3]",
      "DELETE b@5 [prev b@4]",
      "DELETE c@5 [prev c@2]",
    ]);
    expect(evs[0]!.kv).toMatchObject({ createRevision: 0, version: 0, lease: 0, value: new Uint8Array(0) });
  });

  it("gives a txn's events at one revision, sorted by key whatever the op order", () => {
    const s = new KvStore();
    s.apply({ op: "put", req: { key: b("m"), value: b("0") } });
    const evs = events(s, {
      op: "txn",
      req: { compare: [], success: [op.put("z", "1"), op.del("m"), op.put("a", "2")], failure: [] },
    });
    expect(evs).toEqual(["PUT a=2@3", "DELETE m@3 [prev 0@2]", "PUT z=1@3"]);
  });

  it("gives no events when nothing is written: no-op delete, read-only txn, compaction, failure", () => {
    const s = new KvStore();
    s.apply({ op: "put", req: { key: b("a"), value: b("1") } });
    expect(events(s, { op: "deleteRange", req: { key: b("nothing") } })).toEqual([]);
    expect(events(s, { op: "txn", req: { compare: [], success: [op.range("a")], failure: [] } })).toEqual([]);
    expect(events(s, { op: "compact", req: { revision: 2 } })).toEqual([]);
    expect(errorCode(() => s.applyWithEvents({ op: "put", req: { key: b(""), value: b("x") } }))).toBe(
      "invalid_argument",
    );
    expect(s.revision).toBe(2);
    // The failed command left no events behind for the next one.
    expect(events(s, { op: "deleteRange", req: { key: b("nothing") } })).toEqual([]);
  });

  it("returns the same results and state as apply() over a random sequence", () => {
    const rng = seededRandom(42);
    const plain = new KvStore();
    const recording = new KvStore();
    for (let i = 0; i < 300; i++) {
      const key = b(`k${Math.floor(rng() * 8)}`);
      const r = rng();
      const cmd: Command =
        r < 0.6
          ? { op: "put", req: { key, value: b(`v${i}`), prevKv: rng() < 0.5 } }
          : r < 0.8
            ? { op: "deleteRange", req: { key, prevKv: true } }
            : {
                op: "txn",
                req: { compare: [], success: [op.put("k1", `t${i}`), op.del("k2")], failure: [] },
              };
      expect(recording.applyWithEvents(cmd).result).toEqual(plain.apply(cmd));
    }
    expect(recording.snapshot()).toEqual(plain.snapshot());
  });
});
